/**
 * The agent types and the task-type → agent routing table: the one source both the runtime
 * (router, CLI, workers) and the infrastructure (agent catalog, stack config) read.
 * It has no dependencies so the infra library can compile it in beside its own code.
 */

export const AGENT_TYPES = [
  "python",
  "frontend",
  "backend",
  "devops",
  "tester",
  "researcher",
  "coordinator",
  "reviewer",
  "security",
  "data",
  "ml",
  "integration",
] as const;

export type AgentType = (typeof AGENT_TYPES)[number];

/** Task type → the agent that handles it. Every agent is reachable; no task type maps twice. */
export const TASK_ROUTES = {
  "code-generation": "python",
  "python-scripting": "python",
  "frontend-work": "frontend",
  "ui-component": "frontend",
  "backend-work": "backend",
  "api-design": "backend",
  deployment: "devops",
  infrastructure: "devops",
  "test-generation": "tester",
  "test-run": "tester",
  research: "researcher",
  "documentation-lookup": "researcher",
  orchestration: "coordinator",
  planning: "coordinator",
  "code-review": "reviewer",
  "security-audit": "security",
  "vulnerability-scan": "security",
  "data-analysis": "data",
  "sql-query": "data",
  "model-training": "ml",
  "ml-inference": "ml",
  integration: "integration",
  webhook: "integration",
} as const satisfies Record<string, AgentType>;

export type TaskType = keyof typeof TASK_ROUTES;

export const TASK_TYPES = Object.keys(TASK_ROUTES) as TaskType[];

export function isAgentType(value: string): value is AgentType {
  return (AGENT_TYPES as readonly string[]).includes(value);
}

export function isTaskType(value: string): value is TaskType {
  return Object.hasOwn(TASK_ROUTES, value);
}

/** The agent a task type routes to, or undefined for an unknown task type. */
export function agentForTask(taskType: string): AgentType | undefined {
  return isTaskType(taskType) ? TASK_ROUTES[taskType] : undefined;
}

/** The task types an agent serves, in table order. */
export function taskTypesOf(agent: AgentType): TaskType[] {
  return TASK_TYPES.filter((t) => TASK_ROUTES[t] === agent);
}
