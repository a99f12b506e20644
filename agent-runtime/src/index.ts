/**
 * @agent-fleet/runtime — public API: the queue, the worker, the executors, the task router and
 * the agent process, and the shared process plumbing. (The CLI is the package's bin.)
 */
export * from "./catalog";
export * from "./contract";

// Queue protocol client (docs/queue-protocol.md)
export * from "./queue";

// Worker
export * from "./worker";

// Shared process plumbing
export { createLogger, logger, errorFields, errorMessage, LOG_LEVELS, type Logger } from "./lib/log";
export { createMetrics, metrics, TASK_OUTCOMES, type RuntimeMetrics, type TaskOutcome } from "./lib/metrics";
export {
  createHttpServer,
  HttpServer,
  DEFAULT_MAX_BODY_BYTES,
  type HttpServerOptions,
  type RouteHandler,
} from "./lib/http";
export { HttpError, readJsonBody, parseBody, sendJson, sendError, type ErrorDetail } from "./lib/json";
export { parseEnv, EnvError, type ParseEnvOptions } from "./lib/env";
export { withTimeout } from "./lib/timeout";

// Executors
export {
  createExecutor,
  echoSettings,
  resolveExecutorSettings,
  ExecutorError,
  ExecutorConfigError,
  type Executor,
  type ExecutionTask,
  type ExecutionResult,
  type ExecutorSettings,
} from "./executors";
export { executorMetrics } from "./executors/metrics";

// Task router and agent process
export { startRouter, runRouter, type RunningRouter } from "./router/main";
export { loadRouterConfig, type RouterConfig } from "./router/config";
export { startAgent, runAgent, executorHandler, type RunningAgent } from "./agent/main";
