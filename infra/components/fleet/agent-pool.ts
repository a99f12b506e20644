import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { isAgentType } from "../../../agent-runtime/src/catalog";
import { API_KEY_ENV, RUNTIME_ENV, type ExecutorKind } from "../../../agent-runtime/src/contract";
import type { AgentSettings } from "../../catalog";
import { ArgsProblems } from "../../lib/args";
import { hpaSpec, type PoolScaling } from "./autoscaling";
import {
  AGENT_PORT,
  agentLabels,
  agentPodLabels,
  agentResourceName,
  containerSecurityContext,
  podSecurityContext,
  scrapeAnnotations,
  scratchVolume,
  SERVICE_PORT,
  spreadOverNodes,
  TRACK_LABEL,
} from "./conventions";
import { agentGracePeriodSeconds, modelSidecar, runtimeProbes, type ModelSidecarSpec } from "./pod-spec";
import { tracingEnv, type TracingArgs } from "./tracing";

/** A key of a Kubernetes Secret, for env vars that must not sit in a ConfigMap. */
export interface SecretKeyRef {
  name: pulumi.Input<string>;
  key: string;
}

/** How the runtime reaches Redis (TaskQueue outputs this). */
export interface QueueConnection {
  /** redis:// URL without the password. */
  url: pulumi.Input<string>;
  password?: SecretKeyRef;
  /** Key prefix of the queue protocol (TaskQueue gives the runtime's default, DEFAULT_QUEUE_PREFIX). */
  prefix: string;
}

/** The runtime's executor: `echo`, or an LLM API (a hosted one, or the local sidecar). */
export type AgentExecutor =
  | { kind: "echo" }
  | { kind: Exclude<ExecutorKind, "echo">; model: string; baseUrl?: string; apiKey?: SecretKeyRef };

export interface AgentPoolArgs {
  /** Namespace of every object of the pool. */
  namespace: pulumi.Input<string>;
  /** The agent's settings (catalog defaults with overrides: `agentSettings()`). */
  agent: AgentSettings;
  /** Image reference; prefer `repo@sha256:...` so an unchanged image never rolls pods. */
  image: pulumi.Input<string>;
  /** `fixed` uses `agent.replicas` and creates no HPA; `hpa` creates one and leaves `replicas` unset. */
  scaling: PoolScaling;
  queue: QueueConnection;
  executor: AgentExecutor;
  /** A local model: the shared volume (mounted read-only) and the inference sidecar serving it. */
  model?: {
    claimName: pulumi.Input<string>;
    sidecar: ModelSidecarSpec;
    podAnnotations?: Record<string, string>;
  };
  /** Node selection for the agent's pool. */
  scheduling?: {
    nodeSelector?: Record<string, string>;
    tolerations?: k8s.types.input.core.v1.Toleration[];
  };
  /** Runtime log level. Unset: the runtime's default (info). */
  logLevel?: string;
  /** Trace export (AgentFleet's `tracing`). Unset: tracing off. */
  tracing?: TracingArgs;
  imagePullSecrets?: pulumi.Input<string>[];
  /** Extra pod annotations (e.g. Istio's). */
  podAnnotations?: Record<string, string>;
  /**
   * `stable` (default) or `canary`. A canary pool is a second workload (`agent-<type>-canary`) with
   * its own image behind the stable pool's Service: the mesh splits traffic by the track label. It
   * creates no Service, HPA or PodDisruptionBudget of its own.
   */
  track?: "stable" | "canary";
}

/** Validates AgentPoolArgs; throws ComponentArgsError listing every problem by property path. */
export function validateAgentPoolArgs(name: string, args: AgentPoolArgs): void {
  const a = args.agent;
  const problems = new ArgsProblems("AgentPool", name);
  const agentName: string = a.name; // callers from plain JavaScript are not type-checked
  if (!isAgentType(agentName)) problems.add("agent.name", `"${agentName}" is not an agent type`);
  if (args.scaling.mode === "hpa") {
    if (a.minReplicas < 1)
      problems.add("agent.minReplicas", `must be >= 1 under an HPA (got ${a.minReplicas})`);
    if (a.maxReplicas < a.minReplicas) {
      problems.add(
        "agent.maxReplicas",
        `must be >= agent.minReplicas (${a.minReplicas}), got ${a.maxReplicas}`,
      );
    }
    if (!(a.backlogPerPod > 0)) problems.add("agent.backlogPerPod", `must be > 0 (got ${a.backlogPerPod})`);
  } else if (a.replicas < 0) {
    problems.add("agent.replicas", `must be >= 0 (got ${a.replicas})`);
  }
  if (!(Number.isInteger(a.taskTimeoutSeconds) && a.taskTimeoutSeconds >= 1)) {
    problems.add(
      "agent.taskTimeoutSeconds",
      `must be a whole number of seconds >= 1 (got ${a.taskTimeoutSeconds})`,
    );
  }
  if (typeof args.image === "string" && args.image.trim() === "") problems.add("image", "must not be empty");
  problems.throwIfAny();
}

/**
 * One agent's workload: ServiceAccount (no token), ConfigMap, Deployment or StatefulSet with the
 * runtime (and the model sidecar for local models), Service, PodDisruptionBudget and, in `hpa`
 * mode, an autoscaling/v2 HPA on backlog per pod and CPU.
 */
export class AgentPool extends pulumi.ComponentResource {
  /** The workload's name (`agent-<type>`, `agent-<type>-canary`). */
  readonly workloadName: string;
  readonly workloadKind: "Deployment" | "StatefulSet";
  /** The agent's Service (`agent-<type>`), shared by both tracks. */
  readonly serviceName: string;
  readonly workload: k8s.apps.v1.Deployment | k8s.apps.v1.StatefulSet;
  readonly hpa?: k8s.autoscaling.v2.HorizontalPodAutoscaler;

  constructor(name: string, args: AgentPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:AgentPool", name, {}, opts);
    validateAgentPoolArgs(name, args);
    const a = args.agent;
    const track = args.track ?? "stable";
    const canary = track === "canary";
    const resourceName = agentResourceName(a.name) + (canary ? "-canary" : "");
    const namespace = args.namespace;
    const labels = { ...agentPodLabels(a.name), [TRACK_LABEL]: track };
    // The Service selects both tracks; each workload (and its PDB and spread) only its own.
    const serviceSelector = agentLabels(a.name);
    const selector = { ...serviceSelector, [TRACK_LABEL]: track };
    const grace = agentGracePeriodSeconds(a.taskTimeoutSeconds);
    const child = { parent: this };
    this.workloadName = resourceName;
    this.workloadKind = a.workload;

    const sa = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name: resourceName, namespace, labels }, automountServiceAccountToken: false },
      child,
    );

    const settings = agentEnvironment(args);
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: { name: resourceName, namespace, labels }, data: settings },
      child,
    );

    const secretEnv: k8s.types.input.core.v1.EnvVar[] = [];
    if (args.queue.password) {
      secretEnv.push({ name: RUNTIME_ENV.REDIS_PASSWORD, valueFrom: { secretKeyRef: args.queue.password } });
    }
    if (args.executor.kind !== "echo" && args.executor.apiKey) {
      secretEnv.push({
        name: API_KEY_ENV[args.executor.kind],
        valueFrom: { secretKeyRef: args.executor.apiKey },
      });
    }

    const tmp = scratchVolume();
    const volumes: k8s.types.input.core.v1.Volume[] = [tmp.volume];
    const mounts: k8s.types.input.core.v1.VolumeMount[] = [tmp.mount];
    const initContainers: k8s.types.input.core.v1.Container[] = [];
    if (args.model) {
      volumes.push({
        name: "models",
        persistentVolumeClaim: { claimName: args.model.claimName, readOnly: true },
      });
      initContainers.push(modelSidecar(args.model.sidecar, "models"));
    }

    const podTemplate: k8s.types.input.core.v1.PodTemplateSpec = {
      metadata: {
        labels,
        annotations: {
          ...scrapeAnnotations(),
          // A settings change rolls the pods; an unchanged one (and an unchanged image digest) never does.
          "agent-fleet.io/config-hash": configHash(settings),
          ...args.model?.podAnnotations,
          ...args.podAnnotations,
        },
      },
      spec: {
        serviceAccountName: sa.metadata.name,
        automountServiceAccountToken: false,
        securityContext: podSecurityContext(),
        terminationGracePeriodSeconds: grace,
        ...(args.imagePullSecrets?.length
          ? { imagePullSecrets: args.imagePullSecrets.map((n) => ({ name: n })) }
          : {}),
        ...(args.scheduling?.nodeSelector && Object.keys(args.scheduling.nodeSelector).length
          ? { nodeSelector: args.scheduling.nodeSelector }
          : {}),
        ...(args.scheduling?.tolerations?.length ? { tolerations: args.scheduling.tolerations } : {}),
        topologySpreadConstraints: [spreadOverNodes(selector)],
        ...(initContainers.length ? { initContainers } : {}),
        containers: [
          {
            name: "agent",
            image: args.image,
            args: ["worker", "--agent", a.name],
            ports: [{ name: "http", containerPort: AGENT_PORT }],
            envFrom: [{ configMapRef: { name: config.metadata.name } }],
            env: secretEnv,
            resources: { requests: a.requests, limits: a.limits },
            securityContext: containerSecurityContext(),
            volumeMounts: mounts,
            ...runtimeProbes(),
          },
        ],
        volumes,
      },
    };

    const hpaMode = args.scaling.mode === "hpa" && !canary;
    // Under an HPA the workload has no replicas field, and Pulumi ignores replica drift.
    const workloadOpts: pulumi.CustomResourceOptions = {
      parent: this,
      ...(hpaMode ? { ignoreChanges: ["spec.replicas"] } : {}),
    };
    const replicas = hpaMode ? {} : { replicas: a.replicas };
    const metadata = { name: resourceName, namespace, labels };

    this.serviceName = agentResourceName(a.name);
    if (!canary) {
      new k8s.core.v1.Service(
        `${name}-service`,
        {
          metadata: { ...metadata, name: this.serviceName },
          spec: {
            selector: serviceSelector,
            ports: [{ name: "http", port: SERVICE_PORT, targetPort: "http", appProtocol: "http" }],
          },
        },
        child,
      );
    }

    if (a.workload === "StatefulSet") {
      const headless = new k8s.core.v1.Service(
        `${name}-pods`,
        {
          metadata: { name: `${resourceName}-pods`, namespace, labels },
          spec: {
            clusterIP: "None",
            selector,
            ports: [{ name: "http", port: AGENT_PORT, targetPort: "http" }],
          },
        },
        child,
      );
      this.workload = new k8s.apps.v1.StatefulSet(
        `${name}-workload`,
        {
          metadata,
          spec: {
            ...replicas,
            serviceName: headless.metadata.name,
            podManagementPolicy: "Parallel",
            selector: { matchLabels: selector },
            template: podTemplate,
          },
        },
        workloadOpts,
      );
    } else {
      this.workload = new k8s.apps.v1.Deployment(
        `${name}-workload`,
        {
          metadata,
          spec: {
            ...replicas,
            selector: { matchLabels: selector },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 } },
            template: podTemplate,
          },
        },
        workloadOpts,
      );
    }

    const minPods = hpaMode ? a.minReplicas : a.replicas;
    if (!canary)
      new k8s.policy.v1.PodDisruptionBudget(
        `${name}-pdb`,
        {
          metadata,
          spec: {
            selector: { matchLabels: selector },
            // With two or more pods keep one serving; a single pod may be evicted (it drains first).
            ...(minPods >= 2 ? { minAvailable: 1 } : { maxUnavailable: 1 }),
          },
        },
        child,
      );

    if (args.scaling.mode === "hpa" && !canary) {
      this.hpa = new k8s.autoscaling.v2.HorizontalPodAutoscaler(
        `${name}-hpa`,
        {
          metadata,
          spec: hpaSpec(
            a,
            { kind: a.workload, name: resourceName },
            args.scaling.behavior,
            args.scaling.gpuMetrics,
          ),
        },
        { parent: this, dependsOn: [this.workload] },
      );
    }

    this.registerOutputs({ workloadName: this.workloadName, serviceName: this.serviceName });
  }
}

/** The agent's non-secret settings (its ConfigMap): what the runtime reads at start-up. */
export function agentEnvironment(args: AgentPoolArgs): Record<string, pulumi.Input<string>> {
  const a = args.agent;
  const env: Record<string, pulumi.Input<string>> = {
    [RUNTIME_ENV.AGENT_TYPE]: a.name,
    [RUNTIME_ENV.TASK_TYPES]: a.taskTypes.join(","),
    [RUNTIME_ENV.CONCURRENCY]: String(a.concurrency),
    [RUNTIME_ENV.PORT]: String(AGENT_PORT),
    [RUNTIME_ENV.REDIS_URL]: args.queue.url,
    [RUNTIME_ENV.QUEUE_PREFIX]: args.queue.prefix,
    // In-flight tasks may run to their timeout during a drain; the grace period covers it.
    [RUNTIME_ENV.DRAIN_TIMEOUT_SECONDS]: String(a.taskTimeoutSeconds),
    [RUNTIME_ENV.TASK_TIMEOUT_MS]: String(a.taskTimeoutSeconds * 1000),
    [RUNTIME_ENV.EXECUTOR]: args.executor.kind,
  };
  if (args.logLevel !== undefined) env[RUNTIME_ENV.LOG_LEVEL] = args.logLevel;
  if (args.executor.kind !== "echo") {
    env[RUNTIME_ENV.LLM_MODEL] = args.executor.model;
    if (args.executor.baseUrl) env[RUNTIME_ENV.LLM_BASE_URL] = args.executor.baseUrl;
  }
  return { ...env, ...tracingEnv(args.tracing, agentResourceName(a.name)), ...a.env };
}

/** A short digest of the resolved settings. */
function configHash(settings: Record<string, pulumi.Input<string>>): pulumi.Output<string> {
  return pulumi.output(settings).apply((s) =>
    createHash("sha256")
      .update(JSON.stringify(Object.entries(s).sort()))
      .digest("hex")
      .slice(0, 16),
  );
}
