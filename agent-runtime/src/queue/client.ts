/**
 * TaskQueue — the typed client of the Redis queue protocol (docs/queue-protocol.md).
 *
 *   const queue = new TaskQueue({ redis: "redis://redis:6379/0", prefix: "fleet" });
 *
 * Producers (router, CLI):
 *   enqueue(submission)            → { id, agent, created, duplicate, status }; the agent comes from
 *                                    the task type (TASK_ROUTES). Idempotent by id: a second submit
 *                                    of an id returns duplicate: true and changes nothing.
 *                                    Throws InvalidTaskError (field, message) — nothing enqueued.
 *   getTask(id, agent?)            → TaskRecord | undefined (status, result, error, deliveries, times);
 *                                    without the agent, one pipelined lookup over all 12 agents.
 *   stats(agent) / statsAll()      → { agent, ready: {P0..P3}, inFlight, delayed, dead,
 *                                      oldestReadyAgeSeconds | null,
 *                                      oldestReadyAgeByPriority: {P0..P3: seconds | null} }
 *   listDead(agent, limit) / retryDead(agent, {ids?, limit?}) / purgeDead(agent, {ids?, limit?})
 *   ping(), close()
 *
 * Workers (src/worker/ uses these; most code wants the Worker class, not these):
 *   claim(agent, req)              → ClaimedTask[]          (req: count, leaseMs, workerId, propagate)
 *   waitForWork(agent, conn, ms)   → blocks on the wake marker (BZPOPMIN) on a dedicated connection
 *   ack(lease, result, next?)      → { acked, next }        ack fused with the next claim
 *   ackMany(agent, items, next?)   → { lost, next }         several results in one call
 *   fail(lease, failure, next?)    → { outcome: retrying | failed | dead | lease-lost, next }
 *   renew(agent, leases, leaseMs)  → lost ids               one call for all leases
 *   release(agent, leases)         → count                  back to ready, delivery not counted
 *   reap(agent, limit?)            → { reclaimed, deadLettered, promoted, more, nextDueAt }
 *
 * A task's `input` must be a JSON object. Statuses: queued, running, retrying, succeeded,
 * failed, dead. Timestamps in scripts come from the caller's clock (`now` option), in ms.
 */
import { randomBytes } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { ZodError } from "zod";
import { AGENT_TYPES, agentForTask, type AgentType } from "../catalog";
import { withTimeout } from "../lib/timeout";
import { errorFromCode, InvalidTaskError, ProtocolError, ScriptCode, type QueueError } from "./errors";
import { DEFAULT_QUEUE_PREFIX } from "../contract";
import { queueKeys, type QueueKeys } from "./keys";
import {
  MAX_INPUT_BYTES,
  normalizeSubmission,
  parseStoredPayload,
  TASK_STATUSES,
  type ClaimedTask,
  type Lease,
  type TaskStatus,
} from "./schema";
import { loadScripts, type ScriptSet } from "./scripts";

export interface TaskQueueOptions {
  /** A connected ioredis client (not closed by close()), or a redis:// URL to connect to. */
  redis: Redis | string;
  /** Used with a URL when it carries no password (REDIS_PASSWORD). */
  password?: string;
  /** Extra ioredis options with a URL. */
  redisOptions?: RedisOptions;
  /** Key prefix (default "fleet"). */
  prefix?: string;
  /** How long a finished task's status and result stay readable (default 24 h). */
  resultTtlMs?: number;
  /** Deliveries before a task is dead-lettered, when the task does not say (default 5). */
  defaultMaxDeliveries?: number;
  /** Clock, Unix ms (tests). */
  now?: () => number;
}

export interface EnqueueResult {
  id: string;
  agent: AgentType;
  /** True when this call created the task. */
  created: boolean;
  /** True when a task with this id already existed: nothing changed. */
  duplicate: boolean;
  status: TaskStatus;
}

export interface ClaimRequest {
  /** How many tasks to claim (the worker's free slots). */
  count: number;
  leaseMs: number;
  workerId: string;
  /** Set when the caller was woken by the marker: passes the wake-up on if tasks remain. */
  propagate?: boolean;
}

export interface Failure {
  error: string;
  /** false: fail for good (status failed); true: retry after delayMs, or dead-letter. */
  retryable: boolean;
  delayMs: number;
}

export type FailOutcome = "retrying" | "failed" | "dead" | "lease-lost";

export interface ReapResult {
  reclaimed: number;
  deadLettered: number;
  promoted: number;
  /** A limit was hit: there may be more to do, call again. */
  more: boolean;
  /** The earliest remaining lease deadline or retry due time (Unix ms); undefined when none. */
  nextDueAt: number | undefined;
}

export interface AgentQueueStats {
  agent: AgentType;
  ready: { P0: number; P1: number; P2: number; P3: number };
  inFlight: number;
  delayed: number;
  dead: number;
  /** Seconds the oldest ready task has waited; null when nothing is ready. */
  oldestReadyAgeSeconds: number | null;
  /**
   * Per priority band, seconds the band's next task (its head) has waited; null when the band
   * has nothing ready. The SLA alerts read these.
   */
  oldestReadyAgeByPriority: { P0: number | null; P1: number | null; P2: number | null; P3: number | null };
}

export interface TaskRecord {
  id: string;
  agent: AgentType;
  type: string;
  priority: number;
  status: TaskStatus;
  input: Record<string, unknown>;
  deliveries: number;
  maxDeliveries: number | undefined;
  timeoutMs: number | undefined;
  createdAt: string | undefined;
  enqueuedAt: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  /** When a retrying task is due again. */
  dueAt: number | undefined;
  worker: string | undefined;
  /** The parsed result of a succeeded task. */
  result?: unknown;
  /** The last error (failed, dead, retrying). */
  error: string | undefined;
}

const DEFAULT_RESULT_TTL_MS = 24 * 3600 * 1000;
const DEFAULT_MAX_DELIVERIES = 5;

export class TaskQueue {
  readonly prefix: string;
  readonly redis: Redis;
  readonly resultTtlMs: number;
  readonly defaultMaxDeliveries: number;
  private readonly ownsConnection: boolean;
  private readonly scripts: ScriptSet;
  private readonly keyCache = new Map<AgentType, QueueKeys>();
  private readonly now: () => number;
  private readonly tokenTag = randomBytes(6).toString("hex");
  private tokenCounter = 0;
  private closed = false;

  constructor(options: TaskQueueOptions) {
    this.prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.resultTtlMs = options.resultTtlMs ?? DEFAULT_RESULT_TTL_MS;
    this.defaultMaxDeliveries = options.defaultMaxDeliveries ?? DEFAULT_MAX_DELIVERIES;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.resultTtlMs) || this.resultTtlMs < 1) {
      throw new RangeError(`resultTtlMs must be a positive integer (got ${this.resultTtlMs})`);
    }
    if (!Number.isInteger(this.defaultMaxDeliveries) || this.defaultMaxDeliveries < 1) {
      throw new RangeError(
        `defaultMaxDeliveries must be a positive integer (got ${this.defaultMaxDeliveries})`,
      );
    }
    for (const agent of AGENT_TYPES) this.keyCache.set(agent, queueKeys(agent, this.prefix));
    this.scripts = loadScripts();
    if (typeof options.redis === "string") {
      this.redis = createRedis(options.redis, options.password, options.redisOptions);
      this.ownsConnection = true;
    } else {
      this.redis = options.redis;
      this.ownsConnection = false;
    }
  }

  keys(agent: AgentType): QueueKeys {
    const keys = this.keyCache.get(agent);
    if (!keys)
      throw new RangeError(`unknown agent type "${String(agent)}"; known: ${AGENT_TYPES.join(", ")}`);
    return keys;
  }

  /** A new connection to the same server, for blocking commands (the caller closes it). */
  duplicateConnection(): Redis {
    return this.redis.duplicate();
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  // ------------------------------------------------------------------ producers

  async enqueue(submission: unknown): Promise<EnqueueResult> {
    const now = this.now();
    let task;
    try {
      task = normalizeSubmission(submission, now);
    } catch (error) {
      if (error instanceof ZodError) throw invalidFromZod(error);
      throw error;
    }
    if (Buffer.byteLength(task.inputJson) > MAX_INPUT_BYTES) {
      throw new InvalidTaskError(
        `invalid task: input: must be at most ${MAX_INPUT_BYTES} bytes of JSON`,
        "input",
        {
          taskId: task.id,
        },
      );
    }
    const agent = agentForTask(task.type);
    if (agent === undefined) throw new InvalidTaskError(`invalid task: type: unknown "${task.type}"`, "type");
    const keys = this.keys(agent);
    const reply = await this.scripts["enqueue.v1"].run(
      this.redis,
      [keys.task(task.id), keys.ready, keys.seq, keys.marker],
      [
        task.id,
        task.type,
        task.priority,
        task.inputJson,
        task.maxDeliveries ?? "",
        task.timeoutMs ?? "",
        task.createdAt,
        now,
        this.callToken(),
      ],
    );
    const [code, second, third] = asArray(reply, "enqueue.v1");
    if (code === ScriptCode.OK)
      return { id: task.id, agent, created: true, duplicate: false, status: "queued" };
    if (code === ScriptCode.DUPLICATE) {
      return { id: task.id, agent, created: false, duplicate: true, status: asStatus(third) };
    }
    throw this.error(code, second, { agent, taskId: task.id, script: "enqueue.v1" });
  }

  async getTask(id: string, agent?: AgentType): Promise<TaskRecord | undefined> {
    const agents = agent === undefined ? AGENT_TYPES : [agent];
    const pipeline = this.redis.pipeline();
    for (const a of agents) pipeline.hgetall(this.keys(a).task(id));
    const replies = (await pipeline.exec()) ?? [];
    for (const [index, [error, value]] of replies.entries()) {
      if (error) throw error;
      const found = agents[index];
      if (found !== undefined && isStringRecord(value) && value.payload !== undefined) {
        return toTaskRecord(found, value);
      }
    }
    return undefined;
  }

  async stats(agent: AgentType): Promise<AgentQueueStats> {
    const reply = await this.scripts["stats.v1"].run(this.redis, this.keys(agent).lifecycle, []);
    const [p0, p1, p2, p3, inFlight, delayed, dead, oldest, o0, o1, o2, o3] = asArray(reply, "stats.v1").map(
      (v) => asNumber(v),
    );
    const now = this.now();
    const age = (enqueuedAt: number | undefined) =>
      enqueuedAt === undefined || enqueuedAt < 0 ? null : Math.max(0, (now - enqueuedAt) / 1000);
    return {
      agent,
      ready: { P0: p0 ?? 0, P1: p1 ?? 0, P2: p2 ?? 0, P3: p3 ?? 0 },
      inFlight: inFlight ?? 0,
      delayed: delayed ?? 0,
      dead: dead ?? 0,
      oldestReadyAgeSeconds: age(oldest),
      oldestReadyAgeByPriority: { P0: age(o0), P1: age(o1), P2: age(o2), P3: age(o3) },
    };
  }

  async statsAll(): Promise<AgentQueueStats[]> {
    return Promise.all(AGENT_TYPES.map((agent) => this.stats(agent)));
  }

  /** Dead-lettered tasks, oldest first, with their last error. */
  async listDead(agent: AgentType, limit = 100): Promise<TaskRecord[]> {
    const keys = this.keys(agent);
    const ids = await this.redis.zrange(keys.dead, "0", String(Math.max(0, limit - 1)));
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(keys.task(id));
    const replies = (await pipeline.exec()) ?? [];
    const records: TaskRecord[] = [];
    for (const [error, value] of replies) {
      if (error) throw error;
      if (isStringRecord(value) && value.payload !== undefined) records.push(toTaskRecord(agent, value));
    }
    return records;
  }

  /** Back to ready with a fresh delivery count: the given ids, or the oldest `limit` dead tasks. */
  async retryDead(agent: AgentType, options: { ids?: string[]; limit?: number } = {}): Promise<number> {
    return this.dlq("dlq-retry.v1", agent, options);
  }

  /** Deleted for good: the given ids, or the oldest `limit` dead tasks. */
  async purgeDead(agent: AgentType, options: { ids?: string[]; limit?: number } = {}): Promise<number> {
    return this.dlq("dlq-purge.v1", agent, options);
  }

  private async dlq(
    script: "dlq-retry.v1" | "dlq-purge.v1",
    agent: AgentType,
    options: { ids?: string[]; limit?: number },
  ): Promise<number> {
    const limit = options.limit ?? 1000;
    const reply = await this.scripts[script].run(this.redis, this.keys(agent).lifecycle, [
      limit,
      ...(options.ids ?? []),
    ]);
    return asNumber(reply) ?? 0;
  }

  // ------------------------------------------------------------------ workers

  async claim(agent: AgentType, request: ClaimRequest): Promise<ClaimedTask[]> {
    const reply = await this.scripts["claim.v1"].run(
      this.redis,
      this.keys(agent).lifecycle,
      this.claimArgs(request),
    );
    return this.claimedTasks(agent, asArray(reply, "claim.v1"));
  }

  /** Blocks until the wake marker is set or `timeoutMs` passes; true when woken by the marker. */
  async waitForWork(agent: AgentType, connection: Redis, timeoutMs: number): Promise<boolean> {
    const popped = await connection.bzpopmin(this.keys(agent).marker, Math.max(0.01, timeoutMs / 1000));
    return popped !== null;
  }

  /** Re-sets the wake marker (a worker that popped it but will not claim passes it on). */
  async wake(agent: AgentType): Promise<void> {
    await this.redis.zadd(this.keys(agent).marker, 0, "w");
  }

  async ack(
    lease: Lease,
    result: unknown,
    next?: ClaimRequest,
  ): Promise<{ acked: boolean; next: ClaimedTask[] }> {
    const reply = await this.ackMany(lease.agent, [{ lease, result }], next);
    return { acked: reply.lost.length === 0, next: reply.next };
  }

  /**
   * Records several results in one call (all of one agent), then claims `next.count` tasks.
   * `lost` lists the ids whose lease was gone: their results were dropped.
   */
  async ackMany(
    agent: AgentType,
    items: readonly { lease: Lease; result: unknown }[],
    next?: ClaimRequest,
  ): Promise<{ lost: string[]; next: ClaimedTask[] }> {
    const args = this.claimArgs(next);
    args.push(this.resultTtlMs);
    for (const { lease, result } of items) {
      if (lease.agent !== agent)
        throw new RangeError(`ackMany(${agent}) got a lease of agent ${lease.agent}`);
      args.push(lease.id, lease.token, JSON.stringify(result ?? null));
    }
    const reply = asArray(
      await this.scripts["ack.v1"].run(this.redis, this.keys(agent).lifecycle, args),
      "ack.v1",
    );
    const claimed = asNumber(reply[1]) ?? 0;
    return { lost: reply.slice(2 + claimed * 4).map(String), next: await this.claimedTasks(agent, reply) };
  }

  async fail(
    lease: Lease,
    failure: Failure,
    next?: ClaimRequest,
  ): Promise<{ outcome: FailOutcome; next: ClaimedTask[] }> {
    const reply = asArray(
      await this.scripts["fail.v1"].run(this.redis, this.keys(lease.agent).lifecycle, [
        ...this.claimArgs(next),
        lease.id,
        lease.token,
        failure.error.slice(0, 4096),
        failure.retryable ? "retry" : "fail",
        Math.max(0, Math.round(failure.delayMs)),
        this.defaultMaxDeliveries,
        this.resultTtlMs,
      ]),
      "fail.v1",
    );
    const outcomes: Record<number, FailOutcome> = {
      1: "retrying",
      2: "failed",
      3: "dead",
      [ScriptCode.LEASE_LOST]: "lease-lost",
    };
    const code = asNumber(reply[0]);
    const outcome = code === undefined ? undefined : outcomes[code];
    if (outcome === undefined) {
      throw this.error(reply[0], undefined, { agent: lease.agent, taskId: lease.id, script: "fail.v1" });
    }
    return { outcome, next: await this.claimedTasks(lease.agent, reply) };
  }

  /** Extends every lease in one call; returns the ids whose lease was lost. */
  async renew(agent: AgentType, leases: readonly Lease[], leaseMs: number): Promise<string[]> {
    if (leases.length === 0) return [];
    const reply = await this.scripts["renew.v1"].run(this.redis, this.keys(agent).lifecycle, [
      this.now(),
      leaseMs,
      ...leases.flatMap((l) => [l.id, l.token]),
    ]);
    return asArray(reply, "renew.v1").map(String);
  }

  async release(agent: AgentType, leases: readonly Lease[]): Promise<number> {
    if (leases.length === 0) return 0;
    const reply = await this.scripts["release.v1"].run(this.redis, this.keys(agent).lifecycle, [
      this.now(),
      ...leases.flatMap((l) => [l.id, l.token]),
    ]);
    return asNumber(reply) ?? 0;
  }

  async reap(agent: AgentType, limit = 200): Promise<ReapResult> {
    const reply = await this.scripts["reap.v1"].run(this.redis, this.keys(agent).lifecycle, [
      this.now(),
      limit,
      this.defaultMaxDeliveries,
    ]);
    const [reclaimed, deadLettered, promoted, more, nextDue] = asArray(reply, "reap.v1").map(
      (v) => asNumber(v) ?? 0,
    );
    return {
      reclaimed: reclaimed ?? 0,
      deadLettered: deadLettered ?? 0,
      promoted: promoted ?? 0,
      more: more === 1,
      nextDueAt: nextDue === undefined || nextDue < 0 ? undefined : nextDue,
    };
  }

  /**
   * Closes the connection if this queue opened it. Idempotent. QUIT waits for the server
   * (commands wait through outages), so after `timeoutMs` the connection is simply dropped.
   */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsConnection) return;
    try {
      await withTimeout(this.redis.quit(), timeoutMs, "QUIT");
    } catch {
      this.redis.disconnect();
    }
  }

  // ------------------------------------------------------------------ internals

  /**
   * Unique per call (this client's random tag and a counter): a call that ioredis resends after
   * a lost reply carries the same token, which is how the scripts recognise their own first run.
   */
  private callToken(): string {
    return `${this.tokenTag}${(++this.tokenCounter).toString(36)}-`;
  }

  private claimArgs(request: ClaimRequest | undefined): (string | number)[] {
    const count = request ? Math.max(0, Math.floor(request.count)) : 0;
    return [
      this.now(),
      request?.leaseMs ?? 0,
      count,
      count > 0 ? this.callToken() : "",
      request?.workerId ?? "",
      request?.propagate ? "1" : "0",
    ];
  }

  /** Parses the claimed tasks from a reply laid out as {code, n, id, token, payload, deliveries, ...}. */
  private async claimedTasks(agent: AgentType, reply: unknown[]): Promise<ClaimedTask[]> {
    const count = asNumber(reply[1]) ?? 0;
    const tasks: ClaimedTask[] = [];
    for (let i = 0; i < count; i++) {
      const base = 2 + i * 4;
      const id = String(reply[base]);
      const token = String(reply[base + 1]);
      const deliveries = asNumber(reply[base + 3]) ?? 1;
      const payload = parseStoredPayload(reply[base + 2]);
      if (payload === undefined) {
        // Only a hand-edited hash gets here: fail it for good rather than crash the worker on it.
        await this.fail(
          { agent, id, token },
          { error: "stored payload is not valid JSON of the task shape", retryable: false, delayMs: 0 },
        );
        continue;
      }
      tasks.push({
        agent,
        id,
        token,
        type: payload.type,
        priority: payload.priority,
        input: payload.input,
        createdAt: payload.createdAt,
        enqueuedAt: payload.enqueuedAt,
        deliveries,
        maxDeliveries: payload.maxDeliveries,
        timeoutMs: payload.timeoutMs,
      });
    }
    return tasks;
  }

  private error(
    code: unknown,
    detail: unknown,
    context: { agent: string; taskId: string; script: string },
  ): QueueError {
    const numeric = asNumber(code);
    if (numeric === undefined) {
      return new ProtocolError(`script ${context.script} returned ${JSON.stringify(code)}`, NaN, context);
    }
    return errorFromCode(numeric, typeof detail === "string" ? detail : undefined, context);
  }
}

// ------------------------------------------------------------------ helpers

/** An ioredis client for the queue: commands wait through a Redis restart instead of failing. */
export function createRedis(url: string, password?: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    ...(password !== undefined && password !== "" && !/^rediss?:\/\/[^@/]*:[^@/]+@/.test(url)
      ? { password }
      : {}),
    ...options,
  });
  // Connection errors surface through the commands that wait on them; without a listener,
  // ioredis would also print each reconnect attempt as an "Unhandled error event".
  redis.on("error", () => undefined);
  return redis;
}

function invalidFromZod(error: ZodError): InvalidTaskError {
  const issues = error.issues.map((issue) => `${issue.path.join(".") || "task"}: ${issue.message}`);
  const field = error.issues[0]?.path.join(".") || undefined;
  return new InvalidTaskError(`invalid task: ${issues.join("; ")}`, field);
}

function asArray(reply: unknown, script: string): unknown[] {
  if (!Array.isArray(reply))
    throw new ProtocolError(`script ${script} returned ${JSON.stringify(reply)}`, NaN);
  return reply as unknown[];
}

function asNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function asStatus(value: unknown): TaskStatus {
  return typeof value === "string" && (TASK_STATUSES as readonly string[]).includes(value)
    ? (value as TaskStatus)
    : "queued";
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function toTaskRecord(agent: AgentType, hash: Record<string, string>): TaskRecord {
  const payload = parseStoredPayload(hash.payload);
  const record: TaskRecord = {
    id: payload?.id ?? "",
    agent,
    type: payload?.type ?? "",
    priority: payload?.priority ?? 0,
    status: asStatus(hash.status),
    input: payload?.input ?? {},
    deliveries: asNumber(hash.deliveries) ?? 0,
    maxDeliveries: payload?.maxDeliveries,
    timeoutMs: payload?.timeoutMs,
    createdAt: payload?.createdAt,
    enqueuedAt: payload?.enqueuedAt ?? 0,
    startedAt: asNumber(hash.startedAt),
    finishedAt: asNumber(hash.finishedAt),
    dueAt: asNumber(hash.dueAt),
    worker: hash.worker,
    error: hash.error,
  };
  if (hash.result !== undefined) {
    try {
      record.result = JSON.parse(hash.result) as unknown;
    } catch {
      record.result = hash.result;
    }
  }
  return record;
}
