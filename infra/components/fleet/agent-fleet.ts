import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { API_KEY_ENV, type ApiProvider } from "../../../agent-runtime/src/contract";
import type { AgentSettings, AgentType } from "../../catalog";
import { ArgsProblems } from "../../lib/args";
import { SecretsBackend } from "../platform/secrets-backend";
import { AgentPool, type AgentExecutor, type SecretKeyRef } from "./agent-pool";
import type { HpaBehavior } from "./autoscaling";
import { fleetLabels, REDIS_PORT } from "./conventions";
import {
  FleetMesh,
  type IstioInstall,
  type MeshCircuitBreaker,
  type MeshIngress,
  type MeshRetries,
} from "./mesh";
import { ModelStore, type ModelStoreArgs } from "./model-store";
import { FleetNetworkPolicies } from "./network-policies";
import { traceExportPolicy, type TracingArgs } from "./tracing";
import type { ModelSidecarSpec } from "./pod-spec";
import { TaskQueue, type TaskQueueArgs } from "./task-queue";
import { TaskRouter, type TaskRouterArgs } from "./task-router";

type Toleration = k8s.types.input.core.v1.Toleration;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Where model-backed agents mount the shared model volume. */
const MODEL_MOUNT = "/models";

/**
 * Istio for the fleet (mesh.ts): sidecar injection for the namespace, mTLS STRICT and
 * AuthorizationPolicies, the `task-router` VirtualService (header routing by task type, safe
 * retries, timeouts from each agent's task timeout), a DestinationRule per agent (mTLS, circuit
 * breaking, stable/canary subsets), an optional canary workload and ingress. Stack config's
 * `mesh.istio` is this, with the cluster's platform added by the program.
 */
export interface FleetIstioArgs {
  enabled: boolean;
  revision?: string;
  /** Also install Istio (base, istiod, the CNI node agent; the ingress gateway with `ingress`). */
  install?: boolean;
  /** Istio's chart profile for the cluster (CNI folders); unset for a plain cluster. */
  platform?: "gke" | "k3s";
  /** CNI folders on the nodes, when not the platform's. */
  cni?: { binDir?: string; confDir?: string };
  retries: MeshRetries;
  circuitBreaker: MeshCircuitBreaker;
  /** Without `image`, the canary runs `images.canary` (built by AgentImages). */
  canary?: { agent: AgentType; weight: number; image?: pulumi.Input<string> };
  ingress?: MeshIngress;
  /** Namespaces whose workloads may call the router inside the mesh. */
  routerClientNamespaces: string[];
}

export interface AgentFleetArgs {
  /** Namespace to create (labelled for Pod Security Standards `restricted`). */
  namespace: string;
  /** The agents to deploy, with their settings (`agentSettings()`; `AGENT_CATALOG` has the defaults). */
  agents: AgentSettings[];
  /** `fixed`: `agent.replicas` pods, no HPA. `hpa`: one HPA per agent with this behaviour. */
  scaling: { mode: "fixed" } | { mode: "hpa"; behavior: HpaBehavior; gpuPools?: string[] };
  /** Image references per agent, for the router and for a built canary; digests preferred. */
  images: {
    agents: Partial<Record<AgentType, pulumi.Input<string>>>;
    router: pulumi.Input<string>;
    canary?: pulumi.Input<string>;
  };
  /** Scheduling per node pool; agents on a pool not listed here are unconstrained. */
  nodePools?: Record<string, { nodeSelector?: Record<string, string>; tolerations?: Toleration[] }>;
  queue: DistributiveOmit<TaskQueueArgs, "namespace">;
  /** Shared model files and the inference sidecar; required when an agent uses a local model. */
  models?: Omit<ModelStoreArgs, "namespace"> & { sidecar: Omit<ModelSidecarSpec, "file" | "mountPath"> };
  /** `echo` runs every agent on the echo executor (no keys, no models). Unset: `llm`. */
  executor?: "llm" | "echo";
  /** LLM API keys: values to put in the `llm-api-keys` Secret, or a Secret someone else fills (External Secrets). */
  apiKeys?:
    { values: Partial<Record<ApiProvider, pulumi.Input<string>>> } | { secretName: pulumi.Input<string> };
  router: Omit<TaskRouterArgs, "namespace" | "image" | "queue" | "logLevel" | "tracing" | "imagePullSecrets">;
  /** Runtime log level of agents and router. Unset: the runtime's default (info). */
  logLevel?: string;
  /** Namespace of the Prometheus that scrapes the fleet (the NetworkPolicies let it in). */
  prometheusNamespace: string;
  /** Export traces from agents and router over OTLP/HTTP. Unset: tracing off (the runtime loads no SDK). */
  tracing?: TracingArgs;
  istio?: FleetIstioArgs;
  /** Registry credentials for an imagePullSecret (external registries). */
  imagePullCredentials?: {
    server: pulumi.Input<string>;
    username: pulumi.Input<string>;
    password: pulumi.Input<string>;
  };
}

/** Validates AgentFleetArgs; throws ComponentArgsError listing every problem by property path. */
export function validateAgentFleetArgs(name: string, args: AgentFleetArgs): void {
  const problems = new ArgsProblems("AgentFleet", name);
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(args.namespace)) {
    problems.add("namespace", `"${args.namespace}" is not a DNS-1123 label`);
  }
  if (args.agents.length === 0) problems.add("agents", "list at least one agent");
  const canary = args.istio?.enabled ? args.istio.canary : undefined;
  if (canary && canary.image === undefined && args.images.canary === undefined) {
    problems.add("istio.canary.image", "give the canary's image, or images.canary (a built one)");
  }
  const seen = new Set<string>();
  args.agents.forEach((a, i) => {
    if (seen.has(a.name)) {
      problems.add(`agents[${i}]`, `"${a.name}" is listed twice`);
      return;
    }
    seen.add(a.name);
    if (args.images.agents[a.name] === undefined)
      problems.add(`images.agents.${a.name}`, "missing image reference");
    const model = a.model;
    if (args.executor !== "echo" && model.kind === "local") {
      if (!args.models) {
        problems.add("models", `required because agent ${a.name} uses the local model ${model.file}`);
      } else if (!args.models.files.some((f) => f.name === model.file)) {
        problems.add("models.files", `no file named "${model.file}" (agent ${a.name})`);
      }
    }
  });
  problems.throwIfAny();
}

/**
 * The whole workload layer: namespace, security baseline (default-deny NetworkPolicies), the Redis
 * task queue, the shared model store, the task router and one AgentPool per agent.
 */
export class AgentFleet extends pulumi.ComponentResource {
  readonly namespace: pulumi.Output<string>;
  readonly routerUrl: pulumi.Output<string>;
  /** Bearer tokens of the router (secret). */
  readonly routerTokens: pulumi.Output<string>;
  /** Workload name per agent (`agent-<type>`). */
  readonly workloads: Partial<Record<AgentType, string>>;
  readonly queueEndpoint: pulumi.Output<string>;
  readonly pools: AgentPool[];

  constructor(name: string, args: AgentFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:AgentFleet", name, {}, opts);
    validateAgentFleetArgs(name, args);
    const child = { parent: this };
    const istio = args.istio?.enabled ?? false;
    const injection: Record<string, string> = istio
      ? args.istio?.revision
        ? { "istio.io/rev": args.istio.revision }
        : { "istio-injection": "enabled" }
      : {};

    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: args.namespace,
          labels: {
            ...fleetLabels("namespace"),
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted",
            ...injection,
          },
        },
      },
      child,
    );
    const namespace = ns.metadata.name;
    this.namespace = namespace;

    new FleetNetworkPolicies(
      `${name}-netpol`,
      {
        namespace,
        istio,
        prometheusNamespace: args.prometheusNamespace,
        ...(args.queue.mode === "managed" ? { managedQueuePort: managedPort(args.queue.url) } : {}),
        ...(args.tracing ? { traceExport: traceExportPolicy(args.tracing) } : {}),
      },
      child,
    );

    const queue = new TaskQueue(`${name}-queue`, { ...args.queue, namespace }, child);
    this.queueEndpoint = queue.endpoint;

    let pullSecrets: pulumi.Input<string>[] | undefined;
    if (args.imagePullCredentials) {
      const c = args.imagePullCredentials;
      const dockerconfig = pulumi
        .all([c.server, c.username, c.password])
        .apply(([server, username, password]) =>
          JSON.stringify({
            auths: { [server]: { auth: Buffer.from(`${username}:${password}`).toString("base64") } },
          }),
        );
      const pull = new k8s.core.v1.Secret(
        `${name}-pull`,
        {
          metadata: { name: "registry-credentials", namespace, labels: fleetLabels("registry") },
          type: "kubernetes.io/dockerconfigjson",
          stringData: { ".dockerconfigjson": pulumi.secret(dockerconfig) },
        },
        child,
      );
      pullSecrets = [pull.metadata.name];
    }

    let apiKeySecret: pulumi.Input<string> | undefined;
    if (args.apiKeys && "values" in args.apiKeys && Object.keys(args.apiKeys.values).length > 0) {
      const values = args.apiKeys.values;
      apiKeySecret = new SecretsBackend(
        `${name}-api-keys`,
        { namespace, providers: Object.keys(values) as ApiProvider[], backend: { kind: "pulumi", values } },
        child,
      ).secretName;
    } else if (args.apiKeys && "secretName" in args.apiKeys) {
      apiKeySecret = args.apiKeys.secretName;
    }

    const llm = args.executor !== "echo";
    const needsModels = llm && args.agents.some((a) => a.model.kind === "local");
    let store: ModelStore | undefined;
    if (needsModels && args.models) {
      const { sidecar: _sidecar, ...storeArgs } = args.models;
      store = new ModelStore(`${name}-models`, { ...storeArgs, namespace }, child);
    }

    const router = new TaskRouter(
      `${name}-router`,
      {
        ...args.router,
        namespace,
        image: args.images.router,
        queue: queue.connection,
        ...(args.logLevel !== undefined ? { logLevel: args.logLevel } : {}),
        ...(args.tracing ? { tracing: args.tracing } : {}),
        ...(pullSecrets ? { imagePullSecrets: pullSecrets } : {}),
      },
      child,
    );
    this.routerUrl = router.url;
    this.routerTokens = router.tokens;

    this.workloads = {};
    const poolFor = (agent: AgentSettings, track: "stable" | "canary", image: pulumi.Input<string>) => {
      const model = llm && agent.model.kind === "local" && store && args.models ? args.models : undefined;
      const executor = agentExecutor(agent, llm, apiKeySecret, model?.sidecar.port);
      const scheduling = args.nodePools?.[agent.nodePool];
      return new AgentPool(
        `${name}-${agent.name}${track === "canary" ? "-canary" : ""}`,
        {
          namespace,
          agent,
          image,
          track,
          scaling:
            args.scaling.mode === "hpa" && track === "stable"
              ? {
                  mode: "hpa",
                  behavior: args.scaling.behavior,
                  gpuMetrics: args.scaling.gpuPools?.includes(agent.nodePool) ?? false,
                }
              : { mode: "fixed" },
          queue: queue.connection,
          executor,
          ...(model && store && agent.model.kind === "local"
            ? {
                model: {
                  claimName: store.claimName,
                  podAnnotations: store.podAnnotations,
                  sidecar: { ...model.sidecar, file: agent.model.file, mountPath: MODEL_MOUNT },
                },
              }
            : {}),
          ...(scheduling ? { scheduling } : {}),
          ...(args.logLevel !== undefined ? { logLevel: args.logLevel } : {}),
          ...(args.tracing ? { tracing: args.tracing } : {}),
          ...(pullSecrets ? { imagePullSecrets: pullSecrets } : {}),
        },
        { parent: this, ...(model && store ? { dependsOn: [store.ready] } : {}) },
      );
    };
    this.pools = args.agents.map((agent) => {
      const pool = poolFor(agent, "stable", args.images.agents[agent.name] as pulumi.Input<string>);
      this.workloads[agent.name] = pool.workloadName;
      return pool;
    });

    const mesh = args.istio;
    if (mesh?.enabled) {
      const canaryAgent = mesh.canary ? args.agents.find((a) => a.name === mesh.canary?.agent) : undefined;
      const canaryImage = mesh.canary?.image ?? args.images.canary;
      if (mesh.canary && canaryAgent && canaryImage !== undefined) {
        // One canary pod; the mesh's weight decides how much sync traffic it sees.
        this.pools.push(poolFor({ ...canaryAgent, replicas: 1 }, "canary", canaryImage));
      }
      new FleetMesh(
        `${name}-mesh`,
        {
          namespace,
          agents: args.agents.map((a) => ({
            name: a.name,
            taskTypes: a.taskTypes,
            taskTimeoutSeconds: a.taskTimeoutSeconds,
          })),
          retries: mesh.retries,
          circuitBreaker: mesh.circuitBreaker,
          ...(mesh.canary ? { canary: { agent: mesh.canary.agent, weight: mesh.canary.weight } } : {}),
          ...(mesh.install ? { install: istioInstall(mesh) } : {}),
          ...(mesh.ingress ? { ingress: mesh.ingress } : {}),
          routerClientNamespaces: mesh.routerClientNamespaces,
        },
        { parent: this, dependsOn: this.pools },
      );
    }

    this.registerOutputs({
      namespace: this.namespace,
      routerUrl: this.routerUrl,
      workloads: this.workloads,
      queueEndpoint: this.queueEndpoint,
    });
  }
}

/** How FleetMesh installs Istio for these settings (the e2e suite injects pods with the same). */
export function istioInstall(mesh: FleetIstioArgs): IstioInstall {
  return {
    ...(mesh.revision ? { revision: mesh.revision } : {}),
    ...(mesh.platform ? { platform: mesh.platform } : {}),
    ...(mesh.cni ? { cni: mesh.cni } : {}),
  };
}

/** What the agent's runtime executes with; a local model needs the port its sidecar serves on. */
export function agentExecutor(
  agent: AgentSettings,
  llm: boolean,
  apiKeySecret: pulumi.Input<string> | undefined,
  sidecarPort: number | undefined,
): AgentExecutor {
  if (!llm) return { kind: "echo" };
  if (agent.model.kind === "local") {
    if (sidecarPort === undefined) {
      throw new Error(`agentExecutor: agent ${agent.name} serves a local model; pass its sidecar's port`);
    }
    return { kind: "openai", model: agent.model.file, baseUrl: `http://127.0.0.1:${sidecarPort}/v1` };
  }
  const m = agent.model;
  const apiKey: SecretKeyRef | undefined =
    m.baseUrl === undefined && apiKeySecret !== undefined
      ? { name: apiKeySecret, key: API_KEY_ENV[m.provider] }
      : undefined;
  return {
    kind: m.provider,
    model: m.name,
    ...(m.baseUrl ? { baseUrl: m.baseUrl } : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}

/** The port of a managed Redis URL: its own, else Redis' default (6380 for TLS, by convention). */
function managedPort(url: pulumi.Input<string>): number {
  if (typeof url !== "string") return REDIS_PORT;
  const match = /:(\d+)(\/|$)/.exec(url.replace(/^rediss?:\/\//, ""));
  return match ? Number(match[1]) : url.startsWith("rediss://") ? 6380 : REDIS_PORT;
}
