/**
 * The agent catalog: the capacity plan's defaults for each of the 12 agents (DESIGN.md), and the
 * shape of one agent's settings as every component takes them. Stack config overrides any default
 * per agent (a stack file holds only what differs); library users do the same with agentSettings().
 */
import {
  AGENT_TYPES,
  TASK_ROUTES,
  taskTypesOf,
  type AgentType,
  type TaskType,
} from "../agent-runtime/src/catalog";
import type { ApiProvider } from "../agent-runtime/src/contract";

export { AGENT_TYPES, TASK_ROUTES, taskTypesOf, type AgentType };

/** Every image the Dockerfile builds: one per agent and the router. */
export const IMAGE_NAMES = [...AGENT_TYPES, "router"] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

export type WorkloadKind = "Deployment" | "StatefulSet";

export type ResourceSpec = {
  /** CPU in Kubernetes quantity notation, e.g. "1" or "500m". */
  cpu: string;
  /** Memory in Kubernetes quantity notation, e.g. "2Gi". */
  memory: string;
};

/** Where an agent's model runs: a hosted API, or a local model file served by a sidecar. */
export type ModelSpec =
  { kind: "api"; provider: ApiProvider; name: string; baseUrl?: string } | { kind: "local"; file: string };

export interface AgentDefaults {
  minReplicas: number;
  maxReplicas: number;
  /** HPA External metric target: ready + in-flight tasks per pod. */
  backlogPerPod: number;
  /** HPA CPU utilisation target in percent of requests; undefined = backlog only. */
  cpuPercent?: number;
  /** Scale trigger on accelerator utilisation, reported in the plan for GPU pools. */
  gpuPercent?: number;
  requests: ResourceSpec;
  limits: ResourceSpec;
  workload: WorkloadKind;
  /** Node pool the agent's pods are scheduled on. */
  nodePool: string;
  model: ModelSpec;
  /** Tasks one pod works on at once (the runtime's CONCURRENCY). */
  concurrency: number;
  /**
   * The longest one task may run on this agent, in seconds (the runtime's TASK_TIMEOUT_MS: a task
   * may ask for less, never more). The pod's grace period and the mesh's timeouts follow from it.
   */
  taskTimeoutSeconds: number;
}

const API_AGENT = { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } };
const API_MODEL: ModelSpec = { kind: "api", provider: "anthropic", name: "claude-sonnet-4-5" };

function apiAgent(minReplicas: number, maxReplicas: number, backlogPerPod: number): AgentDefaults {
  return {
    minReplicas,
    maxReplicas,
    backlogPerPod,
    requests: { ...API_AGENT.requests },
    limits: { ...API_AGENT.limits },
    workload: "Deployment",
    nodePool: "agents",
    model: { ...API_MODEL },
    concurrency: 4,
    taskTimeoutSeconds: 600,
  };
}

/** The capacity plan. Every number is a default that stack config can override. */
export const AGENT_CATALOG: Readonly<Record<AgentType, AgentDefaults>> = {
  python: {
    minReplicas: 2,
    maxReplicas: 10,
    backlogPerPod: 5,
    cpuPercent: 70,
    requests: { cpu: "4", memory: "8Gi" },
    limits: { cpu: "8", memory: "16Gi" },
    workload: "StatefulSet",
    nodePool: "agents",
    model: { kind: "local", file: "qwen3-8b-q4_k_m.gguf" },
    concurrency: 2,
    taskTimeoutSeconds: 900,
  },
  frontend: apiAgent(1, 5, 3),
  backend: apiAgent(1, 5, 3),
  devops: apiAgent(1, 3, 2),
  tester: apiAgent(1, 8, 5),
  researcher: apiAgent(1, 3, 2),
  // Orchestration: always 1-2 pods; backlog still drives the second one.
  coordinator: apiAgent(1, 2, 5),
  reviewer: apiAgent(1, 4, 3),
  security: apiAgent(1, 3, 2),
  data: apiAgent(1, 4, 3),
  ml: {
    minReplicas: 1,
    maxReplicas: 5,
    backlogPerPod: 2,
    gpuPercent: 60,
    requests: { cpu: "8", memory: "32Gi" },
    limits: { cpu: "16", memory: "64Gi" },
    workload: "StatefulSet",
    nodePool: "ml",
    model: { kind: "local", file: "qwen3-8b-q4_k_m.gguf" },
    concurrency: 1,
    taskTimeoutSeconds: 1800,
  },
  integration: apiAgent(1, 3, 2),
};

/** One agent's settings as the components take them: the catalog's defaults with overrides applied. */
export interface AgentSettings extends AgentDefaults {
  name: AgentType;
  /** False keeps the agent out of the fleet (stack config's `agents.<name>.enabled`). */
  enabled: boolean;
  /** Pods when scaling is `fixed`. */
  replicas: number;
  /** Extra, non-secret runtime environment, on top of what the pool sets. */
  env: Record<string, string>;
  /** The task types routed to the agent. */
  taskTypes: TaskType[];
}

/** Overrides of an agent's catalog defaults; `null` turns a CPU or GPU scale trigger off. */
export type AgentOverrides = Partial<
  Omit<AgentDefaults, "requests" | "limits" | "cpuPercent" | "gpuPercent">
> & {
  requests?: Partial<ResourceSpec>;
  limits?: Partial<ResourceSpec>;
  cpuPercent?: number | null;
  gpuPercent?: number | null;
  enabled?: boolean;
  /** Default: minReplicas. */
  replicas?: number;
  env?: Record<string, string>;
};

/**
 * The settings of one agent: catalog defaults, then `overrides`. Stack config resolves every agent
 * through this; use it to build `AgentFleetArgs.agents` in your own Pulumi program.
 */
export function agentSettings(name: AgentType, overrides: AgentOverrides = {}): AgentSettings {
  const base = AGENT_CATALOG[name];
  const { requests, limits, cpuPercent, gpuPercent, enabled, replicas, env, ...rest } = overrides;
  const { cpuPercent: baseCpu, gpuPercent: baseGpu, ...defaults } = base;
  const cpu = cpuPercent === null ? undefined : (cpuPercent ?? baseCpu);
  const gpu = gpuPercent === null ? undefined : (gpuPercent ?? baseGpu);
  const merged = { ...defaults, ...rest };
  return {
    ...merged,
    ...(cpu === undefined ? {} : { cpuPercent: cpu }),
    ...(gpu === undefined ? {} : { gpuPercent: gpu }),
    name,
    enabled: enabled ?? true,
    requests: { ...base.requests, ...requests },
    limits: { ...base.limits, ...limits },
    replicas: replicas ?? merged.minReplicas,
    env: env ?? {},
    taskTypes: taskTypesOf(name),
  };
}
