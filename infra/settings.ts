/** Agent settings for library users: the catalog's defaults with overrides, without a stack file. */
import { AGENT_CATALOG, taskTypesOf, type AgentDefaults, type AgentType } from "./catalog";
import type { ResolvedAgent } from "./stack-config/resolve";

/**
 * The resolved settings of one agent: catalog defaults, then `overrides`. Use it to build
 * `AgentFleetArgs.agents` in your own Pulumi program.
 */
export function agentSettings(
  name: AgentType,
  overrides: Partial<Omit<AgentDefaults, "requests" | "limits">> & {
    requests?: Partial<AgentDefaults["requests"]>;
    limits?: Partial<AgentDefaults["limits"]>;
    replicas?: number;
    env?: Record<string, string>;
  } = {},
): ResolvedAgent {
  const base = AGENT_CATALOG[name];
  const { requests, limits, replicas, env, ...rest } = overrides;
  return {
    ...base,
    ...rest,
    name,
    enabled: true,
    requests: { ...base.requests, ...requests },
    limits: { ...base.limits, ...limits },
    replicas: replicas ?? rest.minReplicas ?? base.minReplicas,
    env: env ?? {},
    taskTypes: taskTypesOf(name),
  };
}
