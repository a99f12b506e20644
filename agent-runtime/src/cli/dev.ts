/**
 * `agent-fleet dev`: the whole fleet on one machine, in one process — Redis (REDIS_URL when it
 * answers, else a private redis-server), the task router on loopback, and one worker per agent.
 * Executors: EXECUTOR when set; else the OpenAI-compatible server at LLM_BASE_URL when set; else
 * echo, so a fresh clone works with no model and no key. Ctrl-C drains, a second Ctrl-C forces;
 * either way the private redis-server and its folder are gone afterwards. While it runs, its
 * router and Redis are recorded (dev-state.ts) so other commands find them.
 */
import { isIP } from "node:net";
import { Registry } from "prom-client";
import { startAgent, type RunningAgent } from "../agent/main";
import { AGENT_TYPES } from "../catalog";
import { createExecutor, resolveExecutorSettings, type ExecutorSettings } from "../executors";
import { executorMetrics } from "../executors/metrics";
import { createLogger, errorFields, errorMessage } from "../lib/log";
import { createMetrics } from "../lib/metrics";
import { createRedis, TaskQueue } from "../queue/client";
import { loadRouterConfig } from "../router/config";
import { withTimeout } from "../lib/timeout";
import { startTracing, tracingSettingsFromEnv } from "../lib/tracing";
import { startRouter, type RunningRouter } from "../router/main";
import { handleShutdownSignals } from "../worker/shutdown";
import { loadWorkerEnv } from "../worker/env";
import { redactUrl, UsageError, stdio, type Output } from "./commands";
import { removeDevState, writeDevState } from "./dev-state";
import { startLocalRedis, type LocalRedis } from "./local-redis";

export interface DevOptions {
  port: string;
  host: string;
}

export interface DevFleet {
  routerUrl: string;
  redisUrl: string;
  localRedis: LocalRedis | undefined;
  /** Drain (bounded by DRAIN_TIMEOUT_SECONDS, default 10 s in dev) and stop everything. */
  stop(): Promise<void>;
  /** Release in-flight work at once and stop everything. */
  forceStop(): Promise<void>;
}

const DEV_DRAIN_SECONDS = "10";

export async function startDevFleet(
  options: DevOptions,
  env: NodeJS.ProcessEnv,
  io: Output = stdio,
): Promise<DevFleet> {
  const host = options.host;
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be 0-65535 (got "${options.port}"); 0 picks a free port`);
  }
  const loopback = isLoopback(host);
  const hasTokens = Boolean(env.ROUTER_TOKENS?.trim() || env.ROUTER_TOKENS_FILE?.trim());
  if (!loopback && !hasTokens) {
    throw new UsageError(
      `--host ${host} exposes the router beyond this machine; set ROUTER_TOKENS or ROUTER_TOKENS_FILE first`,
    );
  }
  const logLevel = env.LOG_LEVEL ?? "warn";
  const log = createLogger({ component: "dev" }, logLevel);

  // Executor settings first: a configuration error should stop us before anything starts.
  const executorEnv = devExecutorEnv(env);
  const settings = AGENT_TYPES.map((agent) => resolveExecutorSettings(agent, executorEnv));

  const { url: redisUrl, local } = await resolveRedis(env, io);
  const stack: (() => Promise<void>)[] = [];
  const unwind = async () => {
    for (const step of stack.splice(0).reverse()) {
      await step().catch((error: unknown) => log.warn(errorFields(error), "stopping a dev component failed"));
    }
  };
  if (local) stack.push(() => local.stop());

  try {
    const metrics = createMetrics(new Registry());
    const baseEnv = {
      ...env,
      REDIS_URL: redisUrl,
      LOG_LEVEL: logLevel,
      DRAIN_TIMEOUT_SECONDS: env.DRAIN_TIMEOUT_SECONDS ?? DEV_DRAIN_SECONDS,
    };
    const routerConfig = loadRouterConfig({
      ...baseEnv,
      PORT: String(port),
      HOST: host,
      ROUTER_AUTH: env.ROUTER_AUTH ?? (hasTokens ? "required" : "disabled"),
    });
    // One process, one tracer provider: the router's and every agent's spans share a service name.
    const tracing = await startTracing(tracingSettingsFromEnv(routerConfig), {
      defaultServiceName: "agent-fleet-dev",
      logger: log,
    });
    stack.push(() => tracing.shutdown()); // unwound last: after the workers have settled
    const router: RunningRouter = await startRouter({
      config: routerConfig,
      registry: metrics.registry,
      logger: log.child({ component: "router" }),
    }).catch((error: unknown) => {
      if (error instanceof Error && "code" in error && error.code === "EADDRINUSE") {
        throw new UsageError(
          `port ${port} on ${host} is in use; pass --port <n>, or --port 0 for a free one`,
        );
      }
      throw error;
    });
    stack.push(() => router.close());

    const workerEnvs = settings.map((s) =>
      loadWorkerEnv({ ...baseEnv, AGENT_TYPE: s.agent, WORKER_ID: `dev-${s.agent}-${process.pid}` }),
    );
    // The workers share the router's connection, with the worker settings for results and retries.
    const queue = new TaskQueue({
      redis: router.queue.redis,
      prefix: router.queue.prefix,
      resultTtlMs: workerEnvs[0]!.RESULT_TTL_SECONDS * 1000,
      defaultMaxDeliveries: workerEnvs[0]!.MAX_DELIVERIES,
    });
    const agents: RunningAgent[] = [];
    for (const [index, s] of settings.entries()) {
      const workerEnv = workerEnvs[index]!;
      agents.push(
        await startAgent({
          agent: s.agent,
          worker: workerEnv,
          executor: createExecutor(s, executorMetrics(metrics.registry, s.agent)),
          metrics,
          logger: log.child({ agent: s.agent, worker: workerEnv.WORKER_ID }),
          queue,
          http: false,
        }),
      );
    }
    const drainMs = Number(baseEnv.DRAIN_TIMEOUT_SECONDS) * 1000;

    const stateFile = writeDevState(
      {
        pid: process.pid,
        routerUrl: router.url,
        redisUrl,
        prefix: router.queue.prefix,
        startedAt: new Date().toISOString(),
      },
      env,
    );
    stack.push(() => Promise.resolve(removeDevState(process.pid, env)));
    io.out(banner(router.url, redisUrl, local, settings, router.queue.prefix, hasTokens, stateFile));
    let stopping: Promise<void> | undefined;
    return {
      routerUrl: router.url,
      redisUrl,
      localRedis: local,
      stop: () =>
        (stopping ??= (async () => {
          io.out(`draining ${agents.length} workers (up to ${drainMs / 1000} s; Ctrl-C again to force)...`);
          const summaries = await Promise.all(agents.map((a) => a.drain(drainMs)));
          const released = summaries.reduce((n, s) => n + s.released, 0);
          if (released > 0) io.out(`${released} unfinished task(s) went back to the queue`);
          await unwind();
          io.out("agent-fleet dev stopped");
        })()),
      forceStop: async () => {
        io.out("forcing: in-flight tasks go back to the queue");
        await Promise.all(agents.map((a) => a.forceStop().catch(() => undefined)));
        await unwind();
        io.out("agent-fleet dev stopped");
      },
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}

/** `agent-fleet dev` as a command: runs until SIGINT/SIGTERM. */
export async function devCommand(options: DevOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const fleet = await startDevFleet(options, env);
  handleShutdownSignals({
    graceful: () => fleet.stop(),
    force: () => fleet.forceStop(),
    logger: createLogger({ component: "dev" }, env.LOG_LEVEL ?? "warn"),
  });
}

/** The executor environment dev runs with: see the file comment. */
export function devExecutorEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.EXECUTOR?.trim()) return env;
  if (env.LLM_BASE_URL?.trim()) return { ...env, EXECUTOR: "openai" };
  return { ...env, EXECUTOR: "echo" };
}

async function resolveRedis(
  env: NodeJS.ProcessEnv,
  io: Output,
): Promise<{ url: string; local?: LocalRedis }> {
  const configured = env.REDIS_URL?.trim();
  if (configured) {
    const probe = createRedis(configured, env.REDIS_PASSWORD, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1_000,
    });
    probe.on("error", () => undefined);
    try {
      await withTimeout(
        probe.connect().then(() => probe.ping()),
        2_000,
        "connecting to REDIS_URL",
      );
      return { url: configured };
    } catch (error) {
      io.err(`REDIS_URL is not reachable (${errorMessage(error)}); starting a private redis-server instead`);
    } finally {
      probe.disconnect();
    }
  }
  const local = await startLocalRedis();
  return { url: local.url, local };
}

function banner(
  routerUrl: string,
  redisUrl: string,
  local: LocalRedis | undefined,
  settings: ExecutorSettings[],
  prefix: string,
  auth: boolean,
  stateFile: string,
): string {
  const kinds = [...new Set(settings.map((s) => s.kind))];
  const executors =
    kinds.length === 1 && kinds[0] === "echo"
      ? "echo executor (set LLM_BASE_URL, or EXECUTOR=anthropic with ANTHROPIC_API_KEY, to use a model)"
      : kinds
          .map((kind) => {
            const of = settings.filter((s) => s.kind === kind);
            const target =
              kind === "echo"
                ? ""
                : ` → ${[...new Set(of.map((s) => `${s.model} @ ${s.baseUrl}`))].join(", ")}`;
            return `${kind} (${of.length})${target}`;
          })
          .join("; ");
  const redis = local
    ? `${redisUrl}  (private redis-server pid ${local.pid} in ${local.dir}; discarded on exit)`
    : `${redactUrl(redisUrl)}  (REDIS_URL, prefix "${prefix}")`;
  const token = auth ? " -H 'authorization: Bearer <token>'" : "";
  return [
    "agent-fleet dev: the local fleet is up",
    `  router  ${routerUrl}  (auth ${auth ? "required" : "disabled: loopback only"})`,
    `  redis   ${redis}`,
    `  agents  ${settings.length} workers: ${executors}`,
    `  try     npx agent-fleet submit --type code-review --prompt hello --wait`,
    `          curl${token} ${routerUrl}/v1/queues`,
    `  others  agent-fleet commands on this machine find this fleet (${stateFile});`,
    `          elsewhere: ROUTER_URL=${routerUrl} REDIS_URL=${redactUrl(redisUrl)}`,
    "  Ctrl-C drains and stops everything.",
  ].join("\n");
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}
