/**
 * Pure builders for AgentPool: labels, HPA spec, env, probes, the model sidecar. They take plain
 * values (or Inputs passed through untouched), so they test without Pulumi mocks.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResolvedAgent } from "../stack-config/resolve";
import { containerSecurityContext, fleetLabels, QUEUE_CLIENT_LABEL } from "./pod-security";

type Container = k8s.types.input.core.v1.Container;
type Probe = k8s.types.input.core.v1.Probe;
type HpaSpec = k8s.types.input.autoscaling.v2.HorizontalPodAutoscalerSpec;
type HpaMetric = k8s.types.input.autoscaling.v2.MetricSpec;

/** The runtime's HTTP port: /healthz, /readyz, /metrics, /v1/execute. */
export const AGENT_PORT = 8080;
/** The External metric the router exports and prometheus-adapter serves (agent_type label selects the agent). */
export const BACKLOG_METRIC = "agent_queue_backlog";
/** DCGM exporter's GPU utilisation, served as a Pods metric when the pool has GPUs. */
export const GPU_METRIC = "DCGM_FI_DEV_GPU_UTIL";
/** The runtime stops claiming and must be done this many seconds before the kubelet kills the pod. */
export const DRAIN_MARGIN_SECONDS = 10;

export type AgentSettings = ResolvedAgent;

export interface HpaBehavior {
  scaleUp: { stabilizationWindowSeconds: number; percent: number; periodSeconds: number };
  scaleDown: { stabilizationWindowSeconds: number; pods: number; periodSeconds: number };
}

/** `fixed`: that many pods, no HPA. `hpa`: the agent's min/max/targets with this behaviour. */
export type PoolScaling = { mode: "fixed" } | { mode: "hpa"; behavior: HpaBehavior; gpuMetrics?: boolean };

/** `stable` or `canary`: the mesh's DestinationRule subsets select on it. */
export const TRACK_LABEL = "agent-fleet.io/track";

export function agentLabels(agent: string): Record<string, string> {
  return { "app.kubernetes.io/name": `agent-${agent}`, "agent-fleet.io/agent": agent };
}

export function agentPodLabels(agent: string): Record<string, string> {
  return { ...fleetLabels("agent"), ...agentLabels(agent), [QUEUE_CLIENT_LABEL]: "true" };
}

/** The HPA metrics: backlog per pod (External, AverageValue), CPU utilisation, GPU utilisation. */
export function hpaMetrics(agent: AgentSettings, gpuMetrics = false): HpaMetric[] {
  const metrics: HpaMetric[] = [
    {
      type: "External",
      external: {
        metric: { name: BACKLOG_METRIC, selector: { matchLabels: { agent_type: agent.name } } },
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

/** Startup, liveness and readiness probes on the runtime's endpoints. */
export function runtimeProbes(
  port: number | string = "http",
): Pick<Container, "startupProbe" | "livenessProbe" | "readinessProbe"> {
  const get = (path: string) => ({ httpGet: { path, port } });
  const startupProbe: Probe = {
    ...get("/healthz"),
    periodSeconds: 2,
    failureThreshold: 30,
    timeoutSeconds: 2,
  };
  const livenessProbe: Probe = {
    ...get("/healthz"),
    periodSeconds: 10,
    failureThreshold: 3,
    timeoutSeconds: 2,
  };
  const readinessProbe: Probe = {
    ...get("/readyz"),
    periodSeconds: 5,
    failureThreshold: 2,
    timeoutSeconds: 2,
  };
  return { startupProbe, livenessProbe, readinessProbe };
}

export interface ModelSidecarSpec {
  image: pulumi.Input<string>;
  /** File name on the model volume. */
  file: string;
  port: number;
  contextSize: number;
  resources: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
  /** Where the shared volume is mounted. */
  mountPath: string;
}

/**
 * The inference sidecar: llama.cpp's OpenAI-compatible server on the shared model file. It runs as
 * a native sidecar (an init container with restartPolicy Always), so it is up before the agent
 * starts and stops after it; its startup probe holds the agent back until the model is loaded.
 */
export function modelSidecar(spec: ModelSidecarSpec, volumeName: string): Container {
  const threads = Math.max(1, Math.floor(Number.parseFloat(spec.resources.limits.cpu) || 1));
  return {
    name: "model",
    image: spec.image,
    restartPolicy: "Always",
    args: [
      "--model",
      `${spec.mountPath}/${spec.file}`,
      "--host",
      "0.0.0.0",
      "--port",
      String(spec.port),
      "--ctx-size",
      String(spec.contextSize),
      "--threads",
      String(threads),
    ],
    ports: [{ name: "model", containerPort: spec.port }],
    resources: spec.resources,
    securityContext: containerSecurityContext(),
    volumeMounts: [
      { name: volumeName, mountPath: spec.mountPath, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
    startupProbe: { httpGet: { path: "/health", port: spec.port }, periodSeconds: 5, failureThreshold: 120 },
    livenessProbe: { httpGet: { path: "/health", port: spec.port }, periodSeconds: 15, failureThreshold: 4 },
  };
}

/** `agent-<name>` — the workload, Service, ConfigMap and ServiceAccount name of an agent. */
export function agentResourceName(agent: string): string {
  return `agent-${agent}`;
}
