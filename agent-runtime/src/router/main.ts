/**
 * The task router process: queue client + the shared HTTP server + the router's routes and
 * gauges. `startRouter` is what tests and `agent-fleet dev` embed; `runRouter` is the
 * `agent-fleet router` command (config from env, signal handling).
 */
import type { Registry } from "prom-client";
import { createHttpServer, type HttpServer } from "../lib/http";
import { createLogger, errorFields, type Logger } from "../lib/log";
import { createMetrics, metrics as processMetrics } from "../lib/metrics";
import { withTimeout } from "../lib/timeout";
import { TaskQueue } from "../queue/client";
import { handleShutdownSignals } from "../worker/shutdown";
import { registerRouterRoutes } from "./app";
import { loadRouterConfig, type RouterConfig } from "./config";
import { QueueGauges, routerResponseCounter } from "./metrics";

/** /readyz and scrapes give up on Redis after this long (ioredis would otherwise queue forever). */
const REDIS_CHECK_TIMEOUT_MS = 2_000;

export interface StartRouterOptions {
  config: RouterConfig;
  /** Default: a fresh registry with the runtime's metrics. */
  registry?: Registry;
  logger?: Logger;
  /** Default: a TaskQueue on config.REDIS_URL (closed by close()). */
  queue?: TaskQueue;
  /** How long /readyz, scrapes and close() wait for Redis (default 2 s). */
  redisTimeoutMs?: number;
}

export interface RunningRouter {
  url: string;
  port: number;
  http: HttpServer;
  queue: TaskQueue;
  gauges: QueueGauges;
  /** Stops accepting requests, waits for the running ones, closes Redis. Idempotent. */
  close(): Promise<void>;
}

export async function startRouter(options: StartRouterOptions): Promise<RunningRouter> {
  const { config } = options;
  const log = options.logger ?? createLogger({ component: "router" }, config.LOG_LEVEL);
  const registry = options.registry ?? createMetrics().registry;
  const ownsQueue = options.queue === undefined;
  const redisTimeoutMs = options.redisTimeoutMs ?? REDIS_CHECK_TIMEOUT_MS;
  const queue =
    options.queue ??
    new TaskQueue({
      redis: config.REDIS_URL,
      ...(config.REDIS_PASSWORD === undefined ? {} : { password: config.REDIS_PASSWORD }),
      prefix: config.QUEUE_PREFIX,
    });
  queue.redis.on("error", (error: unknown) => log.debug(errorFields(error), "redis connection error"));
  const gauges = new QueueGauges(
    registry,
    () => withTimeout(queue.statsAll(), redisTimeoutMs, "reading queue statistics"),
    (error) => log.warn(errorFields(error), "queue gauges not refreshed; Redis unreachable?"),
  );
  const http = createHttpServer({
    port: config.PORT,
    host: config.HOST,
    registry,
    logger: log,
    maxBodyBytes: config.ROUTER_MAX_BODY_BYTES,
    ready: async () => {
      try {
        await withTimeout(queue.ping(), redisTimeoutMs, "PING");
        return true;
      } catch {
        return false;
      }
    },
  });
  registerRouterRoutes(http, {
    queue,
    auth: config.auth,
    gauges,
    responses: routerResponseCounter(registry),
  });
  try {
    await http.listen();
  } catch (error) {
    if (ownsQueue) await queue.close();
    throw error;
  }
  const host = config.HOST === "0.0.0.0" || config.HOST === "::" ? "127.0.0.1" : config.HOST;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${http.port}`,
    port: http.port,
    http,
    queue,
    gauges,
    close: () =>
      (closing ??= (async () => {
        http.setDraining();
        try {
          await http.close();
        } catch (error) {
          log.warn(errorFields(error), "closing the HTTP server failed");
        }
        if (ownsQueue) await queue.close(redisTimeoutMs);
      })()),
  };
}

/** `agent-fleet router`: runs until SIGTERM/SIGINT. */
export async function runRouter(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadRouterConfig(env);
  const log = createLogger({ component: "router" }, config.LOG_LEVEL);
  const starting = startRouter({ config, logger: log, registry: processMetrics.registry });
  // Installed before the start completes: a signal while starting closes the router once it is up.
  const close = async () => (await starting).close();
  handleShutdownSignals({ graceful: close, force: close, logger: log });
  const router = await starting;
  log.info(
    { url: router.url, auth: config.auth ? "required" : "disabled", prefix: config.QUEUE_PREFIX },
    "task router listening",
  );
}
