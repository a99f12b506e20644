/**
 * The program: validated config in, the whole fleet out. `main.ts` (what `pulumi up` runs) and the
 * offline renderer both call `deployFleet`, so what render shows is what `pulumi up` creates.
 */
import * as pulumi from "@pulumi/pulumi";
import type { AgentType } from "../agent-runtime/src/catalog";
import { fromEngineConfig, resolveStackConfig, StackConfigError, type FleetConfig } from "./config";
import { assertCapacity, CapacityError } from "./cost/capacity";
import { createCluster } from "./clusters";
import { AgentFleet, type AgentFleetArgs, type ApiProvider } from "./components/agent-fleet";
import { AgentImages, prebuiltImages, toFleetImages, type ImageSet } from "./components/agent-images";
import { POOL_LABEL, type KubernetesCluster } from "./components/cluster";
import type { RegistrySpec } from "./components/image-registry";
import { FleetObservability } from "./components/observability";
import { API_KEYS_SECRET_NAME, SecretsBackend } from "./components/secrets-backend";

export interface FleetOutputs {
  namespace: pulumi.Output<string>;
  routerUrl: pulumi.Output<string>;
  routerTokens: pulumi.Output<string>;
  workloads: Partial<Record<AgentType, string>>;
  queueEndpoint: pulumi.Output<string>;
  kubeconfig: pulumi.Output<string>;
}

/** Scheduling per node pool: cloud pools carry POOL_LABEL and their taints; existing clusters say their own. */
export function nodePoolScheduling(config: FleetConfig): AgentFleetArgs["nodePools"] {
  const c = config.cluster;
  const pools: Record<
    string,
    { nodeSelector?: Record<string, string>; taints: { key: string; value: string; effect: string }[] }
  > =
    c.provider === "existing"
      ? c.nodePools
      : Object.fromEntries(
          Object.entries(
            c.nodePools as Record<string, { taints: { key: string; value: string; effect: string }[] }>,
          ).map(([pool, p]) => [pool, { nodeSelector: { [POOL_LABEL]: pool }, taints: p.taints }]),
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
  if (images.source === "prebuilt") return prebuiltImages(images, agents);
  const r = images.registry;
  const registry: RegistrySpec =
    r.kind === "external"
      ? { ...r, password: pulumi.secret(config.secretValues[r.passwordKey] ?? "") }
      : r.kind === "artifact-registry" && config.cluster.provider === "gke"
        ? { ...r, project: config.cluster.project }
        : r;
  return new AgentImages("images", { agents, registry, platforms: images.platforms, tag: images.tag });
}

/** The AgentFleet Args a stack's config describes. */
export function fleetArgs(config: FleetConfig, images: ImageSet): AgentFleetArgs {
  const secret = (key: string) => pulumi.secret(config.secretValues[key] ?? "");
  const q = config.queue;
  const istio = config.mesh.istio;
  const m = config.models;
  const apiKeys: AgentFleetArgs["apiKeys"] =
    config.secrets.backend === "pulumi"
      ? {
          values: Object.fromEntries(
            config.secrets.apiKeys.map((p: ApiProvider) => [p, secret(`${p}ApiKey`)]),
          ),
        }
      : { secretName: API_KEYS_SECRET_NAME };
  const gpuPools =
    config.cluster.provider === "gke"
      ? Object.entries(config.cluster.nodePools)
          .filter(([, p]) => p.gpu !== undefined)
          .map(([pool]) => pool)
      : [];
  return {
    namespace: config.namespace,
    agents: config.enabledAgents,
    scaling:
      config.autoscaling.mode === "hpa"
        ? { mode: "hpa", behavior: config.autoscaling.behavior, gpuPools }
        : { mode: "fixed" },
    images: toFleetImages(images.refs),
    ...(images.pullCredentials ? { imagePullCredentials: images.pullCredentials } : {}),
    nodePools: nodePoolScheduling(config),
    queue:
      q.mode === "managed"
        ? { mode: "managed", url: q.url, password: secret(q.passwordKey) }
        : {
            mode: "in-cluster",
            persistence: q.persistence,
            image: q.image,
            storage: q.storage,
            resources: q.resources,
          },
    ...(m.backend && m.loaderImage && m.sidecar.image
      ? {
          models: {
            backend:
              m.backend.kind === "hcloud-nfs" && config.cluster.provider === "hetzner-k3s"
                ? { ...m.backend, clientCidrs: [config.cluster.network.cidr] }
                : m.backend,
            size: m.size,
            files: m.files,
            loaderImage: m.loaderImage,
            sidecar: { ...m.sidecar, image: m.sidecar.image },
          },
        }
      : {}),
    executor: config.runtime.executor,
    apiKeys,
    router: {
      replicas: config.router.replicas,
      auth: config.router.auth,
      resources: config.router.resources,
      ...(config.router.tokensKey ? { tokens: secret(config.router.tokensKey) } : {}),
    },
    terminationGracePeriodSeconds: config.runtime.terminationGracePeriodSeconds,
    logLevel: config.observability.logLevel,
    prometheusNamespace: config.observability.prometheus.namespace,
    istio: {
      enabled: istio.enabled,
      install: istio.install,
      retries: istio.retries,
      circuitBreaker: istio.circuitBreaker,
      ...(istio.revision ? { revision: istio.revision } : {}),
      ...(istio.canary ? { canary: { ...istio.canary, agent: istio.canary.agent as AgentType } } : {}),
    },
  };
}

export function deployFleet(
  config: FleetConfig,
  cluster: KubernetesCluster = createCluster(config),
): FleetOutputs {
  const o = config.observability;
  if (o.prometheus.install || o.adapter.install) {
    new FleetObservability(
      "observability",
      {
        namespace: o.prometheus.namespace,
        installPrometheus: o.prometheus.install,
        installAdapter: o.adapter.install,
        scrapeInterval: o.prometheus.scrapeInterval,
      },
      { provider: cluster.provider },
    );
  }
  const fleet = new AgentFleet("fleet", fleetArgs(config, fleetImages(config)), {
    provider: cluster.provider,
  });
  const secrets = config.secrets;
  if (secrets.backend === "aws-secrets-manager" && secrets.apiKeys.length > 0) {
    // AgentFleet's pods reference `llm-api-keys`; the External Secrets Operator fills it.
    new SecretsBackend(
      "secrets",
      {
        namespace: fleet.namespace,
        providers: secrets.apiKeys,
        backend: {
          kind: "aws-secrets-manager",
          region: secrets.region,
          secretPrefix: secrets.secretPrefix,
          refreshInterval: secrets.refreshInterval,
          installOperator: secrets.installOperator,
        },
      },
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

/**
 * The SDK's record of which config keys the stack stores as secrets: exported by
 * `@pulumi/pulumi/runtime` but missing from its type declarations.
 */
function isConfigSecret(key: string): boolean {
  const sdk = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };
  if (typeof sdk.isConfigSecret !== "function") {
    throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret; update infra/program.ts");
  }
  return sdk.isConfigSecret(key);
}

/**
 * The stack's config as the engine hands it to the program, validated once. Preview and up stop
 * here with every problem listed (a RunError prints its message without a stack trace), including
 * an agent whose max scale cannot fit its pool's max nodes.
 */
export function loadEngineConfig(): FleetConfig {
  try {
    const config = resolveStackConfig(
      fromEngineConfig(pulumi.getStack(), pulumi.runtime.allConfig(), isConfigSecret),
    );
    assertCapacity(config);
    return config;
  } catch (err) {
    if (err instanceof StackConfigError || err instanceof CapacityError)
      throw new pulumi.RunError(err.message);
    throw err;
  }
}

/**
 * The whole program: what `infra/main.ts` runs under `pulumi up`, and what an Automation API inline
 * program runs (the end-to-end suite does). Returns the stack outputs.
 */
export function deployStack(): FleetOutputs {
  return deployFleet(loadEngineConfig());
}
