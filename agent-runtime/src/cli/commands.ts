/**
 * The client commands: submit/status/queues talk to the task router over HTTP (as any client
 * would, through its auth); dlq talks to Redis directly, because dead-letter surgery is an
 * operator's job the public API deliberately does not offer.
 */
import { z } from "zod";
import { AGENT_TYPES, isAgentType, type AgentType } from "../catalog";
import { parseEnv } from "../lib/env";
import { errorMessage } from "../lib/log";
import { withTimeout } from "../lib/timeout";
import { QUEUE_ENV_SECRETS, QueueEnvShape } from "../queue/env";
import { TaskQueue } from "../queue/client";
import { RouterClient, TERMINAL_STATUSES } from "./client";
import { readDevState } from "./dev-state";
import { parseTaskInput } from "./input";
import { formatAge, formatTable } from "./table";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Redis did not answer: a failure (exit 1), not a usage error. */
export class RedisUnreachableError extends Error {
  override readonly name = "RedisUnreachableError";
}

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const stdio: Output = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

export interface ClientOptions {
  routerUrl: string;
  token: string | undefined;
}

export interface SubmitOptions extends ClientOptions {
  type: string;
  priority?: string;
  id?: string;
  input?: string;
  prompt?: string;
  wait: boolean;
  timeout: string;
}

export async function submitCommand(options: SubmitOptions, io: Output = stdio): Promise<number> {
  // Every flag is checked before anything is submitted.
  const input = parseTaskInput({ input: options.input, prompt: options.prompt });
  const timeoutMs = seconds(options.timeout, "--timeout") * 1000;
  const client = new RouterClient({ url: options.routerUrl, token: options.token });
  const submitted = await client.submit({
    type: options.type,
    input,
    ...(options.priority === undefined ? {} : { priority: priorityArg(options.priority) }),
    ...(options.id === undefined ? {} : { id: options.id }),
  });
  if (!options.wait) {
    io.out(JSON.stringify(submitted));
    return 0;
  }
  const view = await client.wait(submitted.id, timeoutMs);
  io.out(JSON.stringify(view, null, 2));
  return view.status === "succeeded" ? 0 : 1;
}

export async function statusCommand(id: string, options: ClientOptions, io: Output = stdio): Promise<number> {
  const view = await new RouterClient({ url: options.routerUrl, token: options.token }).task(id);
  io.out(JSON.stringify(view, null, 2));
  return (TERMINAL_STATUSES as readonly string[]).includes(view.status) && view.status !== "succeeded"
    ? 1
    : 0;
}

export async function queuesCommand(
  options: ClientOptions & { json: boolean },
  io: Output = stdio,
): Promise<number> {
  const { agents } = await new RouterClient({ url: options.routerUrl, token: options.token }).queues();
  if (options.json) {
    io.out(JSON.stringify(agents, null, 2));
    return 0;
  }
  const rows = agents.map((a) => [
    a.agent,
    String(a.ready.P0),
    String(a.ready.P1),
    String(a.ready.P2),
    String(a.ready.P3),
    String(a.inFlight),
    String(a.delayed),
    String(a.dead),
    formatAge(a.oldestReadyAgeSeconds),
  ]);
  io.out(formatTable(["agent", "P0", "P1", "P2", "P3", "in-flight", "delayed", "dead", "oldest"], rows));
  return 0;
}

const RedisEnvSchema = z.object(QueueEnvShape);

export interface DlqOptions {
  agent: string;
  /** Else REDIS_URL, else the running `agent-fleet dev`'s Redis. */
  redisUrl?: string;
  id?: string[];
  limit: string;
  yes?: boolean;
  json?: boolean;
}

export async function dlqCommand(
  action: string,
  options: DlqOptions,
  env: NodeJS.ProcessEnv = process.env,
  io: Output = stdio,
): Promise<number> {
  if (!["list", "retry", "purge"].includes(action)) {
    throw new UsageError(`dlq: unknown action "${action}"; use list, retry or purge`);
  }
  const agent = agentArg(options.agent);
  const limit = positiveInt(options.limit, "--limit");
  const ids = options.id ?? [];
  if (action === "purge" && ids.length === 0 && !options.yes) {
    throw new UsageError(
      `dlq purge deletes up to ${limit} dead ${agent} tasks for good; pass --yes to confirm, or --id to pick tasks`,
    );
  }
  const target = resolveRedis(options.redisUrl, env);
  if (target.note) io.err(`agent-fleet: ${target.note}`);
  const queue = await connectQueue(target);
  try {
    if (action === "list") {
      const dead = await queue.listDead(agent, limit);
      if (options.json) io.out(JSON.stringify(dead, null, 2));
      else if (dead.length === 0) io.out(`no dead-lettered ${agent} tasks`);
      else {
        io.out(
          formatTable(
            ["id", "type", "deliveries", "dead since", "last error"],
            dead.map((t) => [
              t.id,
              t.type,
              String(t.deliveries),
              t.finishedAt ? new Date(t.finishedAt).toISOString() : "-",
              (t.error ?? "").replace(/\s+/g, " ").slice(0, 80),
            ]),
          ),
        );
      }
      return 0;
    }
    const selection = ids.length > 0 ? { ids } : { limit };
    const count =
      action === "retry" ? await queue.retryDead(agent, selection) : await queue.purgeDead(agent, selection);
    io.out(
      action === "retry"
        ? `${count} dead ${agent} task(s) back in the ready queue`
        : `${count} dead ${agent} task(s) deleted`,
    );
    if (ids.length > count) io.err(`${ids.length - count} of the given ids were not in the dead-letter set`);
    return 0;
  } finally {
    await queue.close();
  }
}

export interface RedisTarget {
  url: string;
  password: string | undefined;
  prefix: string;
  /** Said on stderr when the address was not given explicitly. */
  note?: string;
}

/**
 * Which Redis a command reads: --redis-url, else REDIS_URL, else the running `agent-fleet dev`'s
 * (dev-state.ts). Never a guess: without any of them, a usage error — a Redis that happens to
 * listen on 6379 may be anyone's.
 */
export function resolveRedis(flag: string | undefined, env: NodeJS.ProcessEnv): RedisTarget {
  if (flag !== undefined && !/^rediss?:\/\/[^/]/.test(flag)) {
    throw new UsageError(
      `--redis-url ${JSON.stringify(flag)} is not a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0`,
    );
  }
  const configured = flag ?? (env.REDIS_URL?.trim() || undefined);
  const dev = configured === undefined ? readDevState(env) : undefined;
  const url = configured ?? dev?.redisUrl;
  if (url === undefined) {
    throw new UsageError(
      "dlq: no Redis to read: no agent-fleet dev is running here and neither --redis-url nor REDIS_URL is set; " +
        "start agent-fleet dev, or pass --redis-url redis://<host>:<port> for the fleet's Redis",
    );
  }
  const queueEnv = parseEnv(
    RedisEnvSchema,
    { ...env, REDIS_URL: url, QUEUE_PREFIX: env.QUEUE_PREFIX?.trim() || dev?.prefix },
    { what: "redis", secrets: QUEUE_ENV_SECRETS },
  );
  const target = {
    url: queueEnv.REDIS_URL,
    password: queueEnv.REDIS_PASSWORD,
    prefix: queueEnv.QUEUE_PREFIX,
  };
  return dev
    ? {
        ...target,
        note: `using the Redis of agent-fleet dev (pid ${dev.pid}): ${redactUrl(url)} (prefix "${target.prefix}")`,
      }
    : target;
}

/** A TaskQueue that has connected, or one line saying which Redis did not answer (no endless reconnecting). */
export async function connectQueue(target: RedisTarget): Promise<TaskQueue> {
  const queue = new TaskQueue({
    redis: target.url,
    ...(target.password === undefined ? {} : { password: target.password }),
    prefix: target.prefix,
    redisOptions: {
      lazyConnect: true,
      connectTimeout: 3_000,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    },
  });
  // Without retries ioredis rejects connect() with "Connection is closed."; the cause came as an event.
  let cause: unknown;
  queue.redis.on("error", (error: unknown) => (cause = error));
  try {
    await withTimeout(queue.redis.connect(), 5_000, "connecting");
    return queue;
  } catch (error) {
    queue.redis.disconnect();
    const reason = errorMessage(cause ?? error);
    throw new RedisUnreachableError(
      `cannot reach Redis at ${redactUrl(target.url)} (${/RESP|protocol/i.test(reason) ? "something answered there, but not Redis" : reason}); ` +
        `start "agent-fleet dev", or point --redis-url or REDIS_URL at the fleet's Redis`,
    );
  }
}

/** A URL fit to print: its password, if any, hidden. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}

export function agentArg(value: string | undefined): AgentType {
  if (value === undefined) throw new UsageError(`--agent is required: one of ${AGENT_TYPES.join(", ")}`);
  if (!isAgentType(value))
    throw new UsageError(`--agent ${value}: unknown agent; one of ${AGENT_TYPES.join(", ")}`);
  return value;
}

/** The router accepts numbers, P0-P3 and names; pass numbers through as numbers. */
function priorityArg(value: string): string | number {
  return /^[0-3]$/.test(value.trim()) ? Number(value) : value;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive integer (got "${value}")`);
  return n;
}

function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag} must be a number of seconds > 0 (got "${value}")`);
  return n;
}
