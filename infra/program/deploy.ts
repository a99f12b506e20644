/**
 * Validated stack config → the components, in one place: the only code that reads config and
 * builds component Args. Most sections are already the Args slice they feed and pass through as
 * they are; the rest (secrets, cluster-specific scheduling) are mapped here. `pulumi up`
 * (stack.ts) and the offline renderer both call deployFleet, so a render shows what up creates.
 */
import * as pulumi from "@pulumi/pulumi";
import type { AgentType } from "../catalog";
import type { FleetConfig } from "../config/resolve";
import { POOL_LABEL, type KubernetesCluster } from "../components/cluster/kubernetes-cluster";
import { AgentFleet, type AgentFleetArgs } from "../components/fleet/agent-fleet";
import { AgentImages, prebuiltImages, toFleetImages, type ImageSet } from "../components/images/agent-images";
import type { RegistrySpec } from "../components/images/image-registry";
import type { TracingArgs } from "../components/fleet/tracing";
import { alertRuleGroups } from "../observability/alerts";
import { dashboardConfigMaps } from "../observability/dashboards";
import {
  collectorEndpoint,
  FleetObservability,
  type ObservabilityArgs,
} from "../components/platform/observability";
import { API_KEYS_SECRET_NAME, SecretsBackend } from "../components/platform/secrets-backend";
import { createCluster } from "./cluster";

export interface FleetOutputs {
  namespace: pulumi.Output<string>;
  routerUrl: pulumi.Output<string>;
  routerTokens: pulumi.Output<string>;
  workloads: Partial<Record<AgentType, string>>;
  queueEndpoint: pulumi.Output<string>;
  kubeconfig: pulumi.Output<string>;
}

type Taint = { key: string; value: string; effect: string };

/** Scheduling per node pool: cloud pools carry POOL_LABEL and their taints; existing clusters say their own. */
export function nodePoolScheduling(config: FleetConfig): AgentFleetArgs["nodePools"] {
  const c = config.cluster;
  const pools: Record<string, { nodeSelector?: Record<string, string>; taints: Taint[] }> =
    c.provider === "existing"
      ? c.nodePools
      : Object.fromEntries(
          Object.entries(c.nodePools as Record<string, { taints: Taint[] }>).map(([pool, p]) => [
            pool,
            { nodeSelector: { [POOL_LABEL]: pool }, taints: p.taints },
          ]),
        );
  return Object.fromEntries(
    Object.entries(pools).map(([pool, p]) => [
      pool,
      {
        ...(p.nodeSelector && Object.keys(p.nodeSelector).length ? { nodeSelector: p.nodeSelector } : {}),
        tolerations: p.taints.map((t) => ({
          key: t.key,
          operator: "Equal",
          value: t.value,
          effect: t.effect,
        })),
      },
    ]),
  );
}

/** The images a stack runs: built and pushed by `pulumi up`, or references to prebuilt ones. */
export function fleetImages(config: FleetConfig): ImageSet {
  const agents = config.enabledAgents.map((a) => a.name);
  const images = config.images;
  if (images.source === "prebuilt") {
    const pull = images.pull;
    return {
      ...prebuiltImages(images, agents),
      ...(pull
        ? {
            pullCredentials: {
              server: pull.server,
              username: pull.username,
              password: pulumi.secret(config.secretValues[pull.passwordKey] ?? ""),
            },
          }
        : {}),
    };
  }
  const canary = builtCanary(config);
  return new AgentImages("images", {
    agents,
    registry: stackRegistry(images.registry, config),
    platforms: images.platforms,
    tag: images.tag,
    ...(canary ? { canary } : {}),
  });
}

type BuildRegistry = Extract<FleetConfig["images"], { source: "build" }>["registry"];

/** Where a stack that builds its images pushes them, as ImageRegistry takes it. */
export function stackRegistry(r: BuildRegistry, config: FleetConfig): RegistrySpec {
  if (r.kind === "external") {
    return { ...r, password: pulumi.secret(config.secretValues[r.passwordKey] ?? "") };
  }
  return r.kind === "artifact-registry" && config.cluster.provider === "gke"
    ? { ...r, project: config.cluster.project }
    : r;
}

/** The agent whose canary image the stack builds: a canary without an image of its own. */
export function builtCanary(config: FleetConfig): AgentType | undefined {
  const canary = config.mesh.istio.enabled ? config.mesh.istio.canary : undefined;
  return canary && canary.image === undefined ? canary.agent : undefined;
}

/**
 * The stack's Istio settings as AgentFleet takes them: `mesh.istio` as written, plus the platform
 * profile Istio's charts know for the cluster (they place GKE's and K3s' CNI folders).
 */
export function fleetIstio(config: FleetConfig): NonNullable<AgentFleetArgs["istio"]> {
  const p = config.cluster.provider;
  const platform = p === "gke" ? "gke" : p === "hetzner-k3s" ? "k3s" : undefined;
  return { ...config.mesh.istio, ...(platform ? { platform } : {}) };
}

/** The GKE pools with GPUs: their agents' HPAs also scale on GPU utilisation. */
function gpuPools(config: FleetConfig): string[] {
  if (config.cluster.provider !== "gke") return [];
  return Object.entries(config.cluster.nodePools)
    .filter(([, p]) => p.gpu !== undefined)
    .map(([pool]) => pool);
}

/** The shared model store, when the stack gives everything a local model needs. */
function modelArgs(config: FleetConfig): AgentFleetArgs["models"] {
  const { backend, loaderImage, sidecar, size, files } = config.models;
  if (!backend || !loaderImage || !sidecar.image) return undefined;
  return {
    // The NFS export admits the cluster's private network, which only the cluster section knows.
    backend:
      backend.kind === "hcloud-nfs" && config.cluster.provider === "hetzner-k3s"
        ? { ...backend, clientCidrs: [config.cluster.network.cidr] }
        : backend,
    size,
    files,
    loaderImage,
    sidecar: { ...sidecar, image: sidecar.image },
  };
}

/** The AgentFleet Args a stack's config describes. */
export function fleetArgs(config: FleetConfig, images: ImageSet): AgentFleetArgs {
  const secret = (key: string) => pulumi.secret(config.secretValues[key] ?? "");
  const { queue, secrets } = config;
  const { tokensKey, ...router } = config.router;
  const models = modelArgs(config);
  const tracing = fleetTracing(config);
  return {
    namespace: config.namespace,
    agents: config.enabledAgents,
    scaling:
      config.autoscaling.mode === "hpa"
        ? { mode: "hpa", behavior: config.autoscaling.behavior, gpuPools: gpuPools(config) }
        : { mode: "fixed" },
    images: { ...toFleetImages(images.refs), ...(images.canary ? { canary: images.canary } : {}) },
    ...(images.pullCredentials ? { imagePullCredentials: images.pullCredentials } : {}),
    nodePools: nodePoolScheduling(config),
    queue:
      queue.mode === "managed"
        ? { mode: "managed", url: queue.url, password: secret(queue.passwordKey) }
        : queue,
    ...(models ? { models } : {}),
    executor: config.runtime.executor,
    apiKeys:
      secrets.backend === "pulumi"
        ? { values: Object.fromEntries(secrets.apiKeys.map((p) => [p, secret(`${p}ApiKey`)])) }
        : { secretName: API_KEYS_SECRET_NAME },
    router: { ...router, ...(tokensKey ? { tokens: secret(tokensKey) } : {}) },
    logLevel: config.observability.logLevel,
    prometheusNamespace: config.observability.prometheus.namespace,
    istio: fleetIstio(config),
    ...(tracing ? { tracing } : {}),
  };
}

/** The runtime's trace export from stack config; undefined when tracing is off. */
export function fleetTracing(config: FleetConfig): TracingArgs | undefined {
  const t = config.observability.tracing;
  if (!t.enabled) return undefined;
  const ns = config.observability.prometheus.namespace;
  return t.endpoint !== undefined
    ? { endpoint: t.endpoint, sampleRatio: t.sampleRatio }
    : { endpoint: collectorEndpoint(ns), sampleRatio: t.sampleRatio, collectorNamespace: ns };
}

/**
 * FleetObservability's args from stack config, or undefined when the stack asks for none of it
 * (nothing installed, no alerts, no dashboards).
 */
export function observabilityArgs(
  config: FleetConfig,
  fleetNamespace: pulumi.Input<string>,
): ObservabilityArgs | undefined {
  const o = config.observability;
  const alertGroups = o.alerts.enabled ? alertRuleGroups(config) : [];
  const dashboards = o.dashboards.enabled ? dashboardConfigMaps(config) : [];
  const collector = o.tracing.enabled && o.tracing.collector.install;
  const wanted = o.prometheus.install || o.adapter.install || o.dashboards.grafana.install || collector;
  if (!wanted && alertGroups.length === 0 && dashboards.length === 0) return undefined;
  return {
    prometheus: o.prometheus,
    adapter: o.adapter,
    fleet: { namespace: fleetNamespace, istio: config.mesh.istio.enabled },
    alertGroups,
    dashboards,
    grafana: o.dashboards.grafana,
    ...(collector
      ? {
          collector: {
            install: true,
            ...(o.tracing.collector.exportTo ? { exportTo: o.tracing.collector.exportTo } : {}),
          },
        }
      : {}),
  };
}

/** Everything a stack creates on `cluster` (by default the one its config asks for). */
export function deployFleet(
  config: FleetConfig,
  cluster: KubernetesCluster = createCluster(config),
): FleetOutputs {
  const fleet = new AgentFleet("fleet", fleetArgs(config, fleetImages(config)), {
    provider: cluster.provider,
  });
  const observability = observabilityArgs(config, fleet.namespace);
  if (observability) new FleetObservability("observability", observability, { provider: cluster.provider });
  const secrets = config.secrets;
  if (secrets.backend === "aws-secrets-manager" && secrets.apiKeys.length > 0) {
    // AgentFleet's pods reference `llm-api-keys`; the External Secrets Operator fills it.
    const { backend, apiKeys, ...aws } = secrets;
    new SecretsBackend(
      "secrets",
      { namespace: fleet.namespace, providers: apiKeys, backend: { kind: backend, ...aws } },
      { provider: cluster.provider },
    );
  }
  return {
    namespace: fleet.namespace,
    routerUrl: fleet.routerUrl,
    routerTokens: fleet.routerTokens,
    workloads: fleet.workloads,
    queueEndpoint: fleet.queueEndpoint,
    kubeconfig: cluster.kubeconfig,
  };
}
