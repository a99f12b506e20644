/**
 * The HPA of an agent pool, as pure functions: metrics from the agent's targets (backlog per pod,
 * CPU, GPU) and the scaling behaviour. The workload under it carries no replicas (agent-pool.ts).
 */
import type * as k8s from "@pulumi/kubernetes";
import { BACKLOG_AGENT_LABEL, BACKLOG_METRIC } from "../../../agent-runtime/src/contract";
import type { AgentSettings } from "../../catalog";
import { GPU_METRIC } from "../platform/observability";

type HpaSpec = k8s.types.input.autoscaling.v2.HorizontalPodAutoscalerSpec;
type HpaMetric = k8s.types.input.autoscaling.v2.MetricSpec;

export interface HpaBehavior {
  scaleUp: { stabilizationWindowSeconds: number; percent: number; periodSeconds: number };
  scaleDown: { stabilizationWindowSeconds: number; pods: number; periodSeconds: number };
}

/** `fixed`: that many pods, no HPA. `hpa`: the agent's min/max/targets with this behaviour. */
export type PoolScaling = { mode: "fixed" } | { mode: "hpa"; behavior: HpaBehavior; gpuMetrics?: boolean };

/** The HPA metrics: backlog per pod (External, AverageValue), CPU utilisation, GPU utilisation. */
export function hpaMetrics(agent: AgentSettings, gpuMetrics = false): HpaMetric[] {
  const metrics: HpaMetric[] = [
    {
      type: "External",
      external: {
        metric: { name: BACKLOG_METRIC, selector: { matchLabels: { [BACKLOG_AGENT_LABEL]: agent.name } } },
        target: { type: "AverageValue", averageValue: String(agent.backlogPerPod) },
      },
    },
  ];
  if (agent.cpuPercent !== undefined) {
    metrics.push({
      type: "Resource",
      resource: { name: "cpu", target: { type: "Utilization", averageUtilization: agent.cpuPercent } },
    });
  }
  if (gpuMetrics && agent.gpuPercent !== undefined) {
    metrics.push({
      type: "Pods",
      pods: {
        metric: { name: GPU_METRIC },
        target: { type: "AverageValue", averageValue: String(agent.gpuPercent) },
      },
    });
  }
  return metrics;
}

export function hpaSpec(
  agent: AgentSettings,
  workload: { kind: string; name: string },
  behavior: HpaBehavior,
  gpuMetrics = false,
): HpaSpec {
  return {
    scaleTargetRef: { apiVersion: "apps/v1", kind: workload.kind, name: workload.name },
    minReplicas: agent.minReplicas,
    maxReplicas: agent.maxReplicas,
    metrics: hpaMetrics(agent, gpuMetrics),
    behavior: {
      scaleUp: {
        stabilizationWindowSeconds: behavior.scaleUp.stabilizationWindowSeconds,
        selectPolicy: "Max",
        policies: [
          { type: "Percent", value: behavior.scaleUp.percent, periodSeconds: behavior.scaleUp.periodSeconds },
        ],
      },
      scaleDown: {
        stabilizationWindowSeconds: behavior.scaleDown.stabilizationWindowSeconds,
        selectPolicy: "Min",
        policies: [
          { type: "Pods", value: behavior.scaleDown.pods, periodSeconds: behavior.scaleDown.periodSeconds },
        ],
      },
    },
  };
}
