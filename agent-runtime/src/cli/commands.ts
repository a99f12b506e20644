/**
 * The client commands: submit/status/queues talk to the task router over HTTP (as any client
 * would, through its auth); dlq talks to Redis directly, because dead-letter surgery is an
 * operator's job the public API deliberately does not offer.
 */
import { z } from "zod";
import { AGENT_TYPES, isAgentType, type AgentType } from "../catalog";
import { parseEnv } from "../lib/env";
import { QUEUE_ENV_SECRETS, QueueEnvShape } from "../queue/env";
import { TaskQueue } from "../queue/client";
import { RouterClient, TERMINAL_STATUSES } from "./client";
import { parseTaskInput } from "./input";
import { formatAge, formatTable } from "./table";

export class UsageError extends Error {
  override readonly name = "UsageError";
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
  input: string;
  wait: boolean;
  timeout: string;
}

export async function submitCommand(options: SubmitOptions, io: Output = stdio): Promise<number> {
  const parsed = parseTaskInput(options.input);
  // The queue stores objects; plain text becomes the prompt.
  const input =
    typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : { prompt: parsed };
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
  const view = await client.wait(submitted.id, seconds(options.timeout, "--timeout") * 1000);
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
  const redisEnv = parseEnv(RedisEnvSchema, env, { what: "redis", secrets: QUEUE_ENV_SECRETS });
  const queue = new TaskQueue({
    redis: redisEnv.REDIS_URL,
    ...(redisEnv.REDIS_PASSWORD === undefined ? {} : { password: redisEnv.REDIS_PASSWORD }),
    prefix: redisEnv.QUEUE_PREFIX,
    // Fail fast instead of waiting for a Redis that is not there.
    redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 3_000 },
  });
  queue.redis.on("error", () => undefined); // reported through the failing command
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
