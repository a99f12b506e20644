/**
 * The pods a stack runs, with the requests the scheduler sees and the node pool they land on, at
 * the fleet's minimum and maximum scale. Mirrors what the workload layer creates (AgentFleet):
 * - each enabled agent: its container, plus the model sidecar when it serves a local model with the
 *   `llm` executor, plus Istio's proxy when the mesh is enabled (the namespace has injection on);
 *   min/max = minReplicas/maxReplicas under `hpa`, `replicas` under `fixed`;
 * - the canary pod of the mesh's canary agent (one pod, same size);
 * - on the general pool (the first pool without a NoSchedule/NoExecute taint, `agents` if it
 *   qualifies): the task router replicas and in-cluster Redis (each with a proxy), the NFS server
 *   of the hcloud-nfs model store, and the platform add-ons the stack installs.
 * The model loader Job runs once and is not counted.
 */
import type { AgentType } from "../catalog";
import type { FleetConfig } from "../config/resolve";
import { addAmounts, amountOf, type Amount } from "./overhead";
import { NFS_SERVER_RESOURCES } from "../components/fleet/model-store-backends";
import { OBSERVABILITY_RESOURCES } from "../components/platform/observability";

export interface PodGroup {
  /** What the pods are: `agent python`, `task-router`, `istiod`, ... */
  name: string;
  agent?: AgentType;
  pool: string;
  /** Pods at the fleet's minimum and maximum scale. */
  min: number;
  max: number;
  /** Requests of one pod, containers and sidecars summed. */
  perPod: Amount;
  /** How perPod is made up, for messages: "agent 4 CPU/8Gi + model sidecar 1/6Gi + istio-proxy 100m/128Mi". */
  parts: string[];
}

/** Istio's injected proxy: the istiod chart's default global.proxy.resources.requests. */
export const ISTIO_PROXY = { cpu: "100m", memory: "128Mi" } as const;

/**
 * Platform pods the stack installs, by their requests. istiod: the istiod chart's default
 * (pilot.resources.requests); Prometheus and prometheus-adapter: what FleetObservability gives them.
 */
export const PLATFORM_PODS = {
  istiod: { cpu: "500m", memory: "2Gi" },
  prometheus: OBSERVABILITY_RESOURCES.prometheus.requests,
  "prometheus-adapter": OBSERVABILITY_RESOURCES.adapter.requests,
  "kube-state-metrics": OBSERVABILITY_RESOURCES.kubeStateMetrics.requests,
  alertmanager: OBSERVABILITY_RESOURCES.alertmanager.requests,
  "prometheus-operator": OBSERVABILITY_RESOURCES.operator.requests,
  grafana: OBSERVABILITY_RESOURCES.grafana.requests,
  "otel-collector": OBSERVABILITY_RESOURCES.collector.requests,
} as const;

/** The NFS server of the hcloud-nfs model store. */
export const NFS_SERVER = NFS_SERVER_RESOURCES.requests;

/** Where pods without a nodeSelector land ("any" on an existing cluster, whose pools are not modelled). */
export function generalPool(config: FleetConfig): string | undefined {
  const c = config.cluster;
  if (c.provider === "existing") return "any";
  const nodePools: Record<string, { taints: { effect: string }[] }> = c.nodePools;
  const pools = Object.entries(nodePools);
  const open = pools
    .filter(([, p]) => p.taints.every((t) => t.effect === "PreferNoSchedule"))
    .map(([n]) => n);
  return open.includes("agents") ? "agents" : open[0];
}

const fmt = (r: { cpu: string; memory: string }) => `${r.cpu} CPU/${r.memory}`;

export function fleetPods(config: FleetConfig): PodGroup[] {
  const mesh = config.mesh.istio.enabled;
  const llm = config.runtime.executor === "llm";
  const hpa = config.autoscaling.mode === "hpa";
  const general = generalPool(config) ?? "(none)";
  const groups: PodGroup[] = [];

  const withProxy = (requests: { cpu: string; memory: string }[], parts: string[]) => ({
    perPod: addAmounts(...[...requests, ...(mesh ? [ISTIO_PROXY] : [])].map(amountOf)),
    parts: [...parts, ...(mesh ? [`istio-proxy ${fmt(ISTIO_PROXY)}`] : [])],
  });

  for (const a of config.enabledAgents) {
    const sidecar = llm && a.model.kind === "local" ? config.models.sidecar.resources.requests : undefined;
    const pod = withProxy(
      [a.requests, ...(sidecar ? [sidecar] : [])],
      [`agent ${fmt(a.requests)}`, ...(sidecar ? [`model sidecar ${fmt(sidecar)}`] : [])],
    );
    groups.push({
      name: `agent ${a.name}`,
      agent: a.name,
      pool:
        config.cluster.provider === "existing" && !(a.nodePool in config.cluster.nodePools)
          ? "any"
          : a.nodePool,
      min: hpa ? a.minReplicas : a.replicas,
      max: hpa ? a.maxReplicas : a.replicas,
      ...pod,
    });
  }
  const canary = config.mesh.istio.canary;
  const canaryOf = canary && mesh ? groups.find((g) => g.agent === canary.agent) : undefined;
  if (canaryOf) groups.push({ ...canaryOf, name: `${canaryOf.name} canary`, min: 1, max: 1 });

  const fixed = (
    name: string,
    count: number,
    requests: { cpu: string; memory: string },
    proxied: boolean,
  ) => {
    const pod = proxied
      ? withProxy([requests], [`${name} ${fmt(requests)}`])
      : { perPod: amountOf(requests), parts: [`${name} ${fmt(requests)}`] };
    groups.push({ name, pool: general, min: count, max: count, ...pod });
  };
  fixed("task-router", config.router.replicas, config.router.resources.requests, true);
  if (config.queue.mode === "in-cluster") fixed("redis", 1, config.queue.resources.requests, true);
  const localModels = llm && config.enabledAgents.some((a) => a.model.kind === "local");
  if (localModels && config.models.backend?.kind === "hcloud-nfs") fixed("models-nfs", 1, NFS_SERVER, false);
  if (mesh && config.mesh.istio.install) fixed("istiod", 1, PLATFORM_PODS.istiod, false);
  const o = config.observability;
  if (o.prometheus.install) {
    const operator = o.prometheus.chart === "kube-prometheus-stack";
    fixed("prometheus", 1, PLATFORM_PODS.prometheus, false);
    fixed("kube-state-metrics", 1, PLATFORM_PODS["kube-state-metrics"], false);
    // The plain chart runs Alertmanager only when there are alerts to route; the stack always.
    if (operator || o.alerts.enabled) fixed("alertmanager", 1, PLATFORM_PODS.alertmanager, false);
    if (operator) fixed("prometheus-operator", 1, PLATFORM_PODS["prometheus-operator"], false);
  }
  if (o.adapter.install) fixed("prometheus-adapter", 1, PLATFORM_PODS["prometheus-adapter"], false);
  if (o.dashboards.grafana.install) fixed("grafana", 1, PLATFORM_PODS.grafana, false);
  if (o.tracing.enabled && o.tracing.collector.install) {
    fixed("otel-collector", 1, PLATFORM_PODS["otel-collector"], false);
  }
  return groups;
}
