/**
 * The agent process (`agent-fleet worker --agent <type>`, the image's default command): a Worker
 * on the agent's queue and POST /v1/execute for the mesh, both running tasks through the agent's
 * executor, on one HTTP server with /healthz, /readyz and /metrics.
 *
 * SIGTERM: /readyz turns 503 and /v1/execute refuses new work at once; queued work stops being
 * claimed; running tasks (queued and synchronous) get DRAIN_TIMEOUT_SECONDS to finish, then the
 * unfinished leases go back to ready and synchronous callers get 503. A second signal forces.
 */
import type { Registry } from "prom-client";
import { z } from "zod";
import type { AgentType } from "../catalog";
import { createExecutor, resolveExecutorSettings, type Executor } from "../executors";
import { executorMetrics } from "../executors/metrics";
import { parseEnv } from "../lib/env";
import { DEFAULT_MAX_BODY_BYTES, createHttpServer, type HttpServer } from "../lib/http";
import { createLogger, errorFields, type Logger } from "../lib/log";
import { startTracing, tracingSettingsFromEnv } from "../lib/tracing";
import { metrics as processMetrics, type RuntimeMetrics } from "../lib/metrics";
import { TaskQueue } from "../queue/client";
import { handleShutdownSignals } from "../worker/shutdown";
import { loadWorkerEnv, queueOptionsFromEnv, workerOptionsFromEnv, type WorkerEnv } from "../worker/env";
import { Worker, type DrainSummary, type TaskHandler } from "../worker/worker";
import { ExecuteEndpoint } from "./execute";

/** The agent's own variables, beside the worker's (worker/env.ts) and the executor's. */
export const AgentEnvSchema = z.object({
  /** Synchronous /v1/execute requests at once (default: CONCURRENCY). */
  EXECUTE_CONCURRENCY: z.coerce
    .number<string>()
    .int("must be an integer from 1 to 1000")
    .min(1, "must be an integer from 1 to 1000")
    .max(1000, "must be an integer from 1 to 1000")
    .optional(),
  EXECUTE_MAX_BODY_BYTES: z.coerce
    .number<string>()
    .int()
    .min(1024, "must be at least 1024")
    .max(64 * 1024 * 1024, "must be at most 67108864")
    .default(DEFAULT_MAX_BODY_BYTES),
  /** Interface for the HTTP server. */
  HOST: z.string().min(1).default("0.0.0.0"),
});

/** Runs a queued task through the executor; its result (text, model, usage) is what the queue stores. */
export function executorHandler(executor: Executor): TaskHandler {
  return (task, signal) =>
    executor.execute(
      { id: task.id, type: task.type, agent: task.agent, priority: task.priority, input: task.input },
      signal,
    );
}

export interface StartAgentOptions {
  agent: AgentType;
  worker: WorkerEnv;
  executor: Executor;
  metrics: RuntimeMetrics;
  logger: Logger;
  /** Default: a TaskQueue on worker.REDIS_URL (closed by close()). */
  queue?: TaskQueue;
  /** The HTTP server; false runs the worker alone (the local fleet runs 12 agents in one process). */
  http?: { port: number; host: string; executeConcurrency: number; maxBodyBytes: number } | false;
}

export interface RunningAgent {
  agent: AgentType;
  worker: Worker;
  queue: TaskQueue;
  http: HttpServer | undefined;
  execute: ExecuteEndpoint | undefined;
  /** Graceful stop within `timeoutMs`; idempotent. */
  drain(timeoutMs: number): Promise<DrainSummary>;
  /** Releases in-flight work at once and closes. */
  forceStop(): Promise<void>;
}

export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  const { agent, worker: env, executor, metrics, logger: log } = options;
  const ownsQueue = options.queue === undefined;
  const queue = options.queue ?? new TaskQueue(queueOptionsFromEnv(env));
  if (ownsQueue)
    queue.redis.on("error", (error: unknown) => log.debug(errorFields(error), "redis connection error"));
  const worker = new Worker({
    ...workerOptionsFromEnv(env),
    queue,
    agent,
    execute: executorHandler(executor),
    logger: log,
    metrics,
  });

  let http: HttpServer | undefined;
  let execute: ExecuteEndpoint | undefined;
  if (options.http !== false && options.http !== undefined) {
    const h = options.http;
    execute = new ExecuteEndpoint({
      agent,
      executor,
      concurrency: h.executeConcurrency,
      maxBodyBytes: h.maxBodyBytes,
      registry: metrics.registry,
    });
    const endpoint = execute;
    http = createHttpServer({
      port: h.port,
      host: h.host,
      registry: metrics.registry,
      logger: log,
      maxBodyBytes: h.maxBodyBytes,
      ready: () => worker.ready,
    });
    http.route("POST", "/v1/execute", (req, res) => endpoint.handle(req, res), { traced: true });
    try {
      await http.listen();
    } catch (error) {
      if (ownsQueue) await queue.close();
      throw error;
    }
  }
  worker.start();

  let draining: Promise<DrainSummary> | undefined;
  const closeRest = async () => {
    await worker.close();
    if (http)
      await http.close().catch((error: unknown) => log.warn(errorFields(error), "closing HTTP failed"));
    if (ownsQueue) await queue.close();
  };
  return {
    agent,
    worker,
    queue,
    http,
    execute,
    drain: (timeoutMs) =>
      (draining ??= (async () => {
        http?.setDraining();
        // Queued and synchronous work share one deadline; at it, synchronous callers get 503.
        const timer = setTimeout(() => execute?.abortAll(), timeoutMs);
        const [summary] = await Promise.all([worker.drain(timeoutMs), execute?.drain()]);
        clearTimeout(timer);
        await closeRest();
        return summary;
      })()),
    forceStop: async () => {
      http?.setDraining();
      execute?.abortAll();
      await worker.forceStop();
      await closeRest();
    },
  };
}

/** `agent-fleet worker [--agent <type>]`: the agent process, until SIGTERM/SIGINT. */
export async function runAgent(
  env: NodeJS.ProcessEnv = process.env,
  agentOverride?: string,
): Promise<RunningAgent> {
  const workerEnv = loadWorkerEnv(agentOverride ? { ...env, AGENT_TYPE: agentOverride } : env);
  const agentEnv = parseEnv(AgentEnvSchema, env, { what: "agent" });
  const agent = workerEnv.AGENT_TYPE;
  const log = createLogger({ agent, worker: workerEnv.WORKER_ID }, workerEnv.LOG_LEVEL);
  const settings = resolveExecutorSettings(agent, env);
  const registry: Registry = processMetrics.registry;
  const executor = createExecutor(settings, executorMetrics(registry, agent));
  const tracing = startTracing(tracingSettingsFromEnv(workerEnv), {
    defaultServiceName: `agent-${agent}`,
    logger: log,
  });
  // Signals are handled from before the start: one that arrives while the agent starts drains it
  // as soon as it is up (the drain needs the worker and the HTTP server to exist).
  const starting = tracing.then(() =>
    startAgent({
      agent,
      worker: workerEnv,
      executor,
      metrics: processMetrics,
      logger: log,
      http: {
        port: workerEnv.PORT,
        host: agentEnv.HOST,
        executeConcurrency: agentEnv.EXECUTE_CONCURRENCY ?? workerEnv.CONCURRENCY,
        maxBodyBytes: agentEnv.EXECUTE_MAX_BODY_BYTES,
      },
    }),
  );
  // The last tasks' spans are flushed once the worker has settled them (drained or released).
  const flushed = async <T>(stop: Promise<T>) => {
    const result = await stop;
    await (await tracing).shutdown();
    return result;
  };
  handleShutdownSignals({
    graceful: async () => flushed((await starting).drain(workerEnv.DRAIN_TIMEOUT_SECONDS * 1000)),
    force: async () => flushed((await starting).forceStop()),
    logger: log,
  });
  const running = await starting;
  log.info(
    {
      port: running.http?.port,
      executor: settings.kind,
      model: settings.model,
      ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
      concurrency: workerEnv.CONCURRENCY,
    },
    "agent ready",
  );
  return running;
}
