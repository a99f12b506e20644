/**
 * The contract between the infrastructure (infra/) and this runtime: every name and value the
 * Kubernetes objects infra renders must agree on with the processes that read them. Like
 * catalog.ts it has no dependencies, so the infra library compiles it in beside its own code.
 * test/infra/runtime-contract.test.ts feeds every agent and router environment of every rendered
 * stack through the runtime's own parsers, so a name that drifts on either side fails there.
 */

/** The HTTP port of agents and the router (/healthz, /readyz, /metrics, /v1/...). */
export const DEFAULT_PORT = 8080;

/** Key prefix of the queue protocol (docs/queue-protocol.md). */
export const DEFAULT_QUEUE_PREFIX = "fleet";

/** The log level when LOG_LEVEL is unset. */
export const DEFAULT_LOG_LEVEL = "info";

/**
 * The router's gauge of ready + in-flight tasks, one series per agent: the External metric every
 * agent's HPA scales on, served by prometheus-adapter.
 */
export const BACKLOG_METRIC = "agent_queue_backlog";
/** The label of BACKLOG_METRIC that names the agent: the HPA selects on it, the adapter groups by it. */
export const BACKLOG_AGENT_LABEL = "agent_type";

/**
 * The runtime metrics infra reads (alert rules and dashboards in infra/observability/), by what
 * they count. They live here, not in the metrics modules, because those import prom-client, which
 * the compiled library does not ship; the metrics modules register under these names, so a name
 * changes in one place, and a rename in the runtime alone fails test/infra/observability.
 */
export const RUNTIME_METRICS = {
  /** Histogram {agent_type, task_type}: a task's run time on a worker, one observation per delivery. */
  taskDuration: "agent_task_duration_seconds",
  /** Counter {agent_type, status}: task deliveries by outcome (lib/metrics.ts TASK_OUTCOMES). */
  tasks: "agent_tasks_total",
  /** Histogram {model_name}: the model's answer time per successful request. */
  inference: "model_inference_seconds",
  /** Router gauge {agent_type, priority}: ready tasks per priority band. */
  queueReady: "agent_queue_ready",
  /** Router gauge {agent_type, priority}: seconds the oldest ready task of a band has waited. */
  queueOldestAge: "agent_queue_oldest_age_seconds",
  /** Router gauge {agent_type}: tasks in the dead-letter set. */
  queueDead: "agent_queue_dead",
  /** Router gauge: 1 when the router's last statistics read from Redis succeeded, else 0. */
  redisUp: "agent_queue_redis_up",
  /** Router counter {method, route, code}: answers of the router's /v1 API. */
  routerResponses: "agent_router_responses_total",
  /** Counter {agent_type, model_name, direction}: tokens the LLM backend reported. */
  llmTokens: "agent_llm_tokens_total",
} as const;

/** Task ids and idempotency keys end up in Redis keys and URLs: keep them plain. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * The mesh's retry conditions under which the agent guarantees that nothing ran: the connection
 * never reached it (connect-failure), the stream was refused before it was read (refused-stream),
 * or the agent answered 429 because it was saturated before starting the task (agent/execute.ts).
 * Anything else (a 5xx, a reset) may come after LLM work began — billed, not idempotent — so the
 * mesh must not retry it.
 */
export const SAFE_RETRY_CONDITIONS = ["connect-failure", "refused-stream", "429"] as const;

/** What an agent's EXECUTOR may name. */
export const EXECUTOR_KINDS = ["echo", "openai", "anthropic"] as const;
export type ExecutorKind = (typeof EXECUTOR_KINDS)[number];

/**
 * The LLM API providers and the variable each one's key is read from. The same names are the
 * keys of the `llm-api-keys` Secret infra creates, so pods map them one to one.
 */
export const API_KEY_ENV = { openai: "OPENAI_API_KEY", anthropic: "ANTHROPIC_API_KEY" } as const;
export type ApiProvider = keyof typeof API_KEY_ENV;
export const API_PROVIDERS = Object.keys(API_KEY_ENV) as ApiProvider[];

/**
 * The variables infra sets on the runtime's containers (ConfigMap or env), by name: the runtime's
 * env schemas read exactly these keys, infra writes exactly these keys.
 */
export const RUNTIME_ENV = {
  /** Agent: which agent's queue the process consumes. */
  AGENT_TYPE: "AGENT_TYPE",
  /**
   * Agent, for operators (`kubectl describe`): the task types routed to it. The runtime does not
   * read it: routing comes from catalog.ts, which infra and the image share.
   */
  TASK_TYPES: "TASK_TYPES",
  CONCURRENCY: "CONCURRENCY",
  PORT: "PORT",
  REDIS_URL: "REDIS_URL",
  /** From a Secret (secretKeyRef), never from the ConfigMap. */
  REDIS_PASSWORD: "REDIS_PASSWORD",
  QUEUE_PREFIX: "QUEUE_PREFIX",
  /** Agent: seconds to finish in-flight work after SIGTERM; below the pod's grace period. */
  DRAIN_TIMEOUT_SECONDS: "DRAIN_TIMEOUT_SECONDS",
  /** Agent: the longest one task may run (ms); a task's own timeoutMs can only shorten it. */
  TASK_TIMEOUT_MS: "TASK_TIMEOUT_MS",
  LOG_LEVEL: "LOG_LEVEL",
  EXECUTOR: "EXECUTOR",
  LLM_MODEL: "LLM_MODEL",
  LLM_BASE_URL: "LLM_BASE_URL",
  /** Router: `required` (bearer tokens) or `disabled`. */
  ROUTER_AUTH: "ROUTER_AUTH",
  /** Router: a file with one token per line (a mounted Secret). */
  ROUTER_TOKENS_FILE: "ROUTER_TOKENS_FILE",
} as const;

/** Variables infra sets only for people to read; no runtime parser takes them. */
export const INFORMATIONAL_ENV: readonly string[] = [RUNTIME_ENV.TASK_TYPES];
