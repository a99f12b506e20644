/**
 * @agent-fleet/runtime — public API. Queue + worker + lib exports first; the router, executors
 * and CLI append theirs below.
 */
export * from "./catalog";

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
  HttpError,
  readJsonBody,
  parseBody,
  sendJson,
  sendError,
  DEFAULT_MAX_BODY_BYTES,
  type HttpServerOptions,
  type RouteHandler,
} from "./lib/http";
export { parseEnv, EnvError, type ParseEnvOptions } from "./lib/env";
