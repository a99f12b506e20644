/**
 * Worker — consumes one agent's queue with bounded concurrency.
 *
 *   const worker = new Worker({ queue, agent: "python", concurrency: 4, execute: (task, signal) => ... });
 *   worker.start();
 *   ...
 *   const summary = await worker.drain(50_000);   // SIGTERM: stop claiming, finish or release
 *   await worker.close();                         // idempotent; closes the blocking connection
 *
 * `execute(task, signal)` returns the task's result (any JSON value). It should honour `signal`:
 * it aborts on the task's timeout, when the lease is lost, and at the drain deadline. Throwing
 * retries the task with capped exponential backoff plus jitter until its maxDeliveries, then
 * dead-letters it; an error with `retryable === false` (e.g. PermanentTaskError, or an executor
 * error for a 400) fails the task for good.
 *
 * How it talks to Redis: one claim per batch of free slots; when nothing is ready it blocks on
 * the agent's wake marker (BZPOPMIN on its own connection — no polling); every ack/fail carries
 * the claim of the next task, and tasks finishing in the same event-loop turn share one ack (a
 * large batch with no other ack in flight goes as two, so Redis and this process overlap); one
 * renew call per interval covers all in-flight leases; a timer runs the reaper (expired leases,
 * due retries), which sleeps until the next lease or retry comes due (at most one lease length,
 * and at most 10 reaper periods), so an idle worker costs Redis one BZPOPMIN per block timeout and
 * one reaper call per 10 s. drain() stops claiming at once and, at the
 * deadline, releases unfinished leases back to ready, so nothing is lost and no lease is left.
 * drain() does not install signal handlers: see handleShutdownSignals() in ./shutdown.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import type { AgentType } from "../catalog";
import { errorFields, errorMessage, logger as defaultLogger, type Logger } from "../lib/log";
import { metrics as defaultMetrics, type RuntimeMetrics, type TaskOutcome } from "../lib/metrics";
import { tracingActive } from "../lib/tracing";
import { DEFAULT_BACKOFF, retryDelayMs, type BackoffOptions } from "../queue/backoff";
import type { ClaimRequest, TaskQueue } from "../queue/client";
import { QueueError } from "../queue/errors";
import type { ClaimedTask, Task } from "../queue/schema";
import { startTaskTrace } from "./tracing";

export type TaskHandler = (task: Task, signal: AbortSignal) => Promise<unknown>;

export interface WorkerHooks {
  /** A delivery starts. */
  onStart?(task: Task): void;
  /** A delivery ended; `outcome` says how. */
  onFinish?(task: Task, outcome: TaskOutcome, error?: unknown): void;
}

export interface WorkerOptions {
  queue: TaskQueue;
  agent: AgentType;
  execute: TaskHandler;
  /** Tasks at once (default 4). */
  concurrency?: number;
  /** Lease length (default 30 s); renewed every leaseMs / 3. */
  leaseMs?: number;
  /** The longest a task may run: the timeout of tasks that set none, the cap of those that do (default 10 min). */
  taskTimeoutMs?: number;
  backoff?: BackoffOptions;
  /**
   * Shortest reaper period (default 1 s, plus up to 20% jitter). The reaper sleeps until the next
   * lease deadline or retry it saw, but at least this long, and at most min(leaseMs, 10 × this).
   */
  reapIntervalMs?: number;
  /** Longest single BZPOPMIN (default 5 s). */
  blockTimeoutMs?: number;
  workerId?: string;
  logger?: Logger;
  metrics?: RuntimeMetrics;
  hooks?: WorkerHooks;
}

export interface DrainSummary {
  /** In-flight tasks that finished (acked or failed) during the drain. */
  finished: number;
  /** Unfinished tasks whose leases went back to ready at the deadline. */
  released: number;
  /** True when the deadline passed with tasks still running. */
  timedOut: boolean;
  /**
   * Leases neither acknowledged nor released because Redis did not answer within
   * DRAIN_SETTLE_GRACE_MS after the deadline: they expire and are redelivered (nothing is lost).
   * Absent when everything settled.
   */
  unsettled?: number;
}

/**
 * After the drain deadline, how long releasing leases and acknowledgements still in flight may
 * wait for Redis. While Redis is unreachable its commands wait for a reconnect with no limit, so
 * without this a drain (and a pod's shutdown) would wait for Redis instead of DRAIN_TIMEOUT_SECONDS.
 * Kept under the 10 s the pod's grace period adds to the drain time.
 */
export const DRAIN_SETTLE_GRACE_MS = 5_000;

/** Throw this (or any error with `retryable: false`) to fail a task without retrying. */
export class PermanentTaskError extends Error {
  readonly retryable = false;
  override readonly name = "PermanentTaskError";
}

export class TaskTimeoutError extends Error {
  override readonly name = "TaskTimeoutError";
}

class LeaseAbort extends Error {
  override readonly name = "LeaseAbort";
}

/** False only for errors that say so (`retryable: false`). */
export function isRetryable(error: unknown): boolean {
  return !(typeof error === "object" && error !== null && "retryable" in error && error.retryable === false);
}

interface Running {
  task: ClaimedTask;
  controller: AbortController;
  startedAt: number;
  /** Set when the worker gave the lease up (lost, or released at the drain deadline). */
  abandoned: "lost" | "released" | undefined;
}

type State = "idle" | "running" | "draining" | "closed";

interface PendingAck {
  task: ClaimedTask;
  result: unknown;
  /** Slots this ack may refill (1 while running, 0 while draining). */
  slots: number;
  resolve: (acked: boolean) => void;
  reject: (error: unknown) => void;
}

export class Worker {
  readonly agent: AgentType;
  readonly workerId: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  private readonly queue: TaskQueue;
  private readonly execute: TaskHandler;
  private readonly taskTimeoutMs: number;
  private readonly backoff: BackoffOptions;
  private readonly reapIntervalMs: number;
  private readonly blockTimeoutMs: number;
  private readonly log: Logger;
  private readonly metrics: RuntimeMetrics;
  private readonly hooks: WorkerHooks;

  private state: State = "idle";
  private readonly inFlight = new Map<string, Running>();
  /** Slots promised to claims that have not answered yet. */
  private reserved = 0;
  /** A claim came back short: nothing is ready, so block instead of claiming. */
  private readyEmpty = false;
  private blocking: Redis | undefined;
  private loop: Promise<void> | undefined;
  private slotWaiters: (() => void)[] = [];
  private renewTimer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  /** When the reap timer fires (Unix ms). */
  private reapAt = Infinity;
  private reaping = false;
  /** Labelled metric children, by task type / outcome (prom-client hashes labels on every call). */
  private readonly durationByType = new Map<string, { observe(value: number): void }>();
  private readonly totalByOutcome = new Map<TaskOutcome, { inc(): void }>();
  private pendingAcks: PendingAck[] = [];
  /** ack.v1 calls sent and not answered yet. */
  private acksInFlight = 0;
  /** Tasks whose ack.v1 or fail.v1 call has not been answered yet. */
  private tasksSettling = 0;
  private drainPromise: Promise<DrainSummary> | undefined;
  private closePromise: Promise<void> | undefined;
  private finishedWhileDraining = 0;
  private lastLoopError = 0;

  constructor(options: WorkerOptions) {
    this.queue = options.queue;
    this.agent = options.agent;
    this.execute = options.execute;
    this.concurrency = options.concurrency ?? 4;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.taskTimeoutMs = options.taskTimeoutMs ?? 600_000;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.reapIntervalMs = options.reapIntervalMs ?? 1_000;
    this.blockTimeoutMs = options.blockTimeoutMs ?? 5_000;
    this.workerId = options.workerId ?? `${hostname()}-${process.pid}-${randomBytes(2).toString("hex")}`;
    this.metrics = options.metrics ?? defaultMetrics;
    this.hooks = options.hooks ?? {};
    // The agent's process logger already carries agent and worker (agent/main.ts): bind only what a
    // caller's logger lacks, or every line would hold each key twice (seen in a pod's log).
    const base = options.logger ?? defaultLogger;
    const bound = base.bindings();
    this.log = base.child({
      ...(bound.agent === undefined ? { agent: this.agent } : {}),
      ...(bound.worker === undefined ? { worker: this.workerId } : {}),
    });
    this.queue.keys(this.agent); // throws for an unknown agent
    for (const [name, value, min] of [
      ["concurrency", this.concurrency, 1],
      ["leaseMs", this.leaseMs, 100],
      ["taskTimeoutMs", this.taskTimeoutMs, 1],
      ["reapIntervalMs", this.reapIntervalMs, 10],
      ["blockTimeoutMs", this.blockTimeoutMs, 10],
    ] as const) {
      if (!Number.isInteger(value) || value < min) {
        throw new RangeError(`Worker ${name} must be an integer >= ${min} (got ${value})`);
      }
    }
  }

  /** True while claiming work (started, not draining). */
  get ready(): boolean {
    return this.state === "running";
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  start(): this {
    if (this.state !== "idle") return this;
    this.state = "running";
    this.blocking = this.queue.duplicateConnection();
    this.blocking.on("error", () => undefined); // reported through the failing command
    this.renewTimer = setInterval(() => void this.renewAll(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.scheduleReap(0);
    this.loop = this.claimLoop();
    this.log.info({ concurrency: this.concurrency, leaseMs: this.leaseMs }, "worker started");
    return this;
  }

  /**
   * Stops claiming at once, waits for in-flight tasks until `timeoutMs`, then releases the
   * unfinished ones back to ready (aborting their signals). Calling it again returns the same drain.
   */
  drain(timeoutMs: number): Promise<DrainSummary> {
    this.drainPromise ??= this.doDrain(timeoutMs);
    return this.drainPromise;
  }

  /** Releases every in-flight lease now (a second SIGTERM), then closes. */
  async forceStop(): Promise<void> {
    this.stopClaiming();
    await this.releaseAll("forced stop");
    await this.close();
  }

  /** Drains with no grace (if not drained yet) and closes the blocking connection. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= (async () => {
      if (this.state !== "idle") await this.drain(0);
      this.state = "closed";
      if (this.renewTimer) clearInterval(this.renewTimer);
      if (this.reapTimer) clearTimeout(this.reapTimer);
      try {
        this.blocking?.disconnect();
      } catch (error) {
        this.log.debug(errorFields(error), "closing the blocking connection failed");
      }
      await this.loop?.catch(() => undefined);
    })();
    return this.closePromise;
  }

  // ------------------------------------------------------------------ claiming

  private get freeSlots(): number {
    return this.concurrency - this.inFlight.size - this.reserved;
  }

  private claimRequest(count: number, propagate = false): ClaimRequest {
    return { count, leaseMs: this.leaseMs, workerId: this.workerId, propagate };
  }

  private async claimLoop(): Promise<void> {
    let woken = false;
    let failures = 0;
    while (this.state === "running") {
      const free = this.freeSlots;
      if (free <= 0) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      try {
        if (this.readyEmpty && !woken) {
          woken = await this.queue.waitForWork(this.agent, this.requireBlocking(), this.blockTimeoutMs);
          // Woken, or timed out: either way look once (a timeout also covers a lost wake-up).
          this.readyEmpty = false;
          if (this.state !== "running") {
            if (woken) await this.queue.wake(this.agent); // pass on the wake-up we will not use
            break;
          }
          continue;
        }
        this.reserved += free;
        try {
          const tasks = await this.queue.claim(this.agent, this.claimRequest(free, woken));
          woken = false;
          failures = 0;
          if (tasks.length < free) this.readyEmpty = true;
          await this.startOrRelease(tasks);
        } finally {
          this.reserved -= free;
        }
      } catch (error) {
        if (this.state !== "running") break;
        failures++;
        this.logLoopError(error);
        await sleep(Math.min(2_000, 50 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  private requireBlocking(): Redis {
    if (!this.blocking) throw new Error("worker not started");
    return this.blocking;
  }

  private logLoopError(error: unknown): void {
    const now = Date.now();
    if (now - this.lastLoopError < 5_000) return;
    this.lastLoopError = now;
    this.log.warn(errorFields(error), "claiming failed; retrying (Redis unreachable?)");
  }

  /**
   * Starts claimed tasks, or — when a drain began while the claim was in flight — hands them
   * straight back. Called while the claim's slots are still reserved, so a drain waits for it.
   */
  private async startOrRelease(tasks: ClaimedTask[]): Promise<void> {
    if (tasks.length === 0) return;
    if (this.state === "running") {
      for (const task of tasks) void this.runTask(task);
      return;
    }
    try {
      await this.withRetry(() => this.queue.release(this.agent, tasks));
    } catch (error) {
      this.log.error(
        errorFields(error),
        "releasing tasks claimed during the drain failed; they will be reaped",
      );
    }
  }

  private notifySlot(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  // ------------------------------------------------------------------ running

  private async runTask(task: ClaimedTask): Promise<void> {
    const key = `${task.id}|${task.token}`;
    const running: Running = {
      task,
      controller: new AbortController(),
      startedAt: Date.now(),
      abandoned: undefined,
    };
    this.inFlight.set(key, running);
    const traced = tracingActive() ? startTaskTrace(task, this.agent, running.startedAt) : undefined;
    this.hooks.onStart?.(task);
    // A task may ask for less time than the agent allows, never more: the pod's grace period (and
    // so a drain) is sized for the agent's limit.
    const timeoutMs = Math.min(task.timeoutMs ?? this.taskTimeoutMs, this.taskTimeoutMs);
    const timer = setTimeout(
      () => running.controller.abort(new TaskTimeoutError(`task timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    let result: unknown;
    let failure: unknown;
    let failed = false;
    try {
      const work = () => this.execute(publicTask(task), running.controller.signal);
      result = await raceAbort(traced ? traced.run(work) : work(), running.controller.signal);
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      clearTimeout(timer);
    }
    this.observeDuration(task.type, (Date.now() - running.startedAt) / 1000);

    // The lease was given up while the task ran (lost, or released at the drain deadline).
    if (running.abandoned !== undefined || !this.inFlight.has(key)) {
      traced?.end(running.abandoned === "released" ? "released" : "lease_lost");
      this.inFlight.delete(key);
      this.notifySlot();
      return;
    }
    const next = this.state === "running" ? 1 : 0;
    this.reserved += next;
    this.inFlight.delete(key);
    let outcome: TaskOutcome;
    try {
      if (!failed) {
        const acked = await this.queueAck(task, result, next);
        outcome = acked ? "succeeded" : "lease_lost";
        if (!acked)
          this.taskLog(task).warn("lease lost before the ack: another worker may have run the task too");
      } else {
        const retryable = isRetryable(failure);
        const delayMs = retryDelayMs(task.deliveries, this.backoff);
        this.tasksSettling++;
        const reply = await this.withRetry(() =>
          this.queue.fail(
            task,
            { error: errorMessage(failure), retryable, delayMs },
            this.claimRequest(next),
          ),
        ).finally(() => this.tasksSettling--);
        outcome = reply.outcome === "lease-lost" ? "lease_lost" : reply.outcome;
        const fields = { ...errorFields(failure), deliveries: task.deliveries, outcome };
        if (outcome === "dead") this.taskLog(task).error(fields, "task dead-lettered");
        else
          this.taskLog(task).warn(fields, outcome === "retrying" ? "task failed; will retry" : "task failed");
        if (outcome === "retrying") this.scheduleReap(delayMs);
        if (reply.next.length < next) this.readyEmpty = true;
        await this.startOrRelease(reply.next);
      }
    } catch (error) {
      // Redis kept failing: the lease will expire and the reaper redelivers the task.
      outcome = "lease_lost";
      this.taskLog(task).error(
        errorFields(error),
        "could not record the outcome; the task will be redelivered after its lease",
      );
    } finally {
      this.reserved -= next;
    }
    if (this.state === "draining") this.finishedWhileDraining++;
    this.countOutcome(outcome);
    traced?.end(outcome, failure);
    this.hooks.onFinish?.(task, outcome, failure);
    this.notifySlot();
  }

  private observeDuration(taskType: string, seconds: number): void {
    let child = this.durationByType.get(taskType);
    if (!child) {
      child = this.metrics.taskDuration.labels({ agent_type: this.agent, task_type: taskType });
      this.durationByType.set(taskType, child);
    }
    child.observe(seconds);
  }

  private countOutcome(outcome: TaskOutcome): void {
    let child = this.totalByOutcome.get(outcome);
    if (!child) {
      child = this.metrics.tasksTotal.labels({ agent_type: this.agent, status: outcome });
      this.totalByOutcome.set(outcome, child);
    }
    child.inc();
  }

  private taskLog(task: Task): Logger {
    return this.log.child({ taskId: task.id });
  }

  /**
   * Acknowledgements wait for the end of the current event-loop turn, so that every task that
   * finished in it is acknowledged — and its slot refilled — by one ack.v1 call. When no other
   * task is running, nothing can join the batch: it goes out at once (concurrency 1 saves a turn).
   */
  private queueAck(task: ClaimedTask, result: unknown, slots: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pendingAcks.push({ task, result, slots, resolve, reject });
      if (this.inFlight.size === 0) void this.flushAcks();
      else if (this.pendingAcks.length === 1) setImmediate(() => void this.flushAcks());
    });
  }

  private async flushAcks(): Promise<void> {
    const batch = this.pendingAcks.splice(0);
    if (batch.length === 0) return;
    // With nothing else in flight, a large batch goes out as two calls: Redis runs the second
    // while this process starts the first one's tasks, instead of each side idling half the time.
    // Only batches over half the concurrency are split, so calls never shrink below a quarter of it.
    if (this.acksInFlight === 0 && batch.length > Math.max(1, this.concurrency / 2)) {
      const half = Math.ceil(batch.length / 2);
      await Promise.all([this.sendAcks(batch.slice(0, half)), this.sendAcks(batch.slice(half))]);
    } else {
      await this.sendAcks(batch);
    }
  }

  private async sendAcks(batch: PendingAck[]): Promise<void> {
    const count = this.state === "running" ? batch.reduce((sum, ack) => sum + ack.slots, 0) : 0;
    try {
      const items = batch.map((ack) => ({ lease: ack.task, result: ack.result }));
      this.tasksSettling += items.length;
      const reply = await this.ackCall(() =>
        this.queue.ackMany(this.agent, items, this.claimRequest(count)),
      ).finally(() => (this.tasksSettling -= items.length));
      if (reply.next.length < count) this.readyEmpty = true;
      await this.startOrRelease(reply.next);
      const lost = new Set(reply.lost);
      for (const ack of batch) ack.resolve(!lost.has(ack.task.id));
    } catch (error) {
      for (const ack of batch) ack.reject(error);
    }
  }

  /** One ack.v1 call (with retries), counted in `acksInFlight` until Redis answers. */
  private async ackCall<T>(call: () => Promise<T>): Promise<T> {
    this.acksInFlight++;
    try {
      return await this.withRetry(call);
    } finally {
      this.acksInFlight--;
    }
  }

  /** Retries a queue call through transient Redis errors (not protocol errors), up to ~10 s. */
  private async withRetry<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof QueueError || attempt >= 8) throw error;
        await sleep(Math.min(2_000, 50 * 2 ** attempt));
      }
    }
  }

  // ------------------------------------------------------------------ leases

  private async renewAll(): Promise<void> {
    const entries = [...this.inFlight.values()].filter((r) => r.abandoned === undefined);
    if (entries.length === 0) return;
    try {
      const lost = new Set(
        await this.queue.renew(
          this.agent,
          entries.map((r) => r.task),
          this.leaseMs,
        ),
      );
      for (const running of entries) {
        if (!lost.has(running.task.id) || running.abandoned !== undefined) continue;
        running.abandoned = "lost";
        running.controller.abort(new LeaseAbort("lease lost: the task was reaped and may run elsewhere"));
        this.countOutcome("lease_lost");
        this.log.warn({ taskId: running.task.id }, "lease lost while running; abandoning the task");
        this.hooks.onFinish?.(running.task, "lease_lost");
      }
    } catch (error) {
      this.log.warn(errorFields(error), "lease renewal failed; retrying next interval");
    }
  }

  private async releaseAll(reason: string): Promise<number> {
    const entries = [...this.inFlight.values()].filter((r) => r.abandoned === undefined);
    if (entries.length === 0) return 0;
    for (const running of entries) {
      running.abandoned = "released";
      running.controller.abort(new LeaseAbort(`released: ${reason}`));
    }
    let released = 0;
    try {
      released = await this.withRetry(() =>
        this.queue.release(
          this.agent,
          entries.map((r) => r.task),
        ),
      );
    } catch (error) {
      this.log.error(errorFields(error), "releasing leases failed; they will expire and be reaped");
    }
    for (const running of entries) {
      this.countOutcome("released");
      this.hooks.onFinish?.(running.task, "released");
    }
    this.log.info({ released, reason }, "leases released back to ready");
    return released;
  }

  /** Runs the reaper in `delayMs`, unless it is already due sooner. */
  private scheduleReap(delayMs: number): void {
    if (this.state === "closed") return;
    const at = Date.now() + delayMs;
    if (this.reapTimer && at >= this.reapAt) return;
    if (this.reapTimer) clearTimeout(this.reapTimer);
    this.reapAt = at;
    this.reapTimer = setTimeout(() => {
      this.reapTimer = undefined;
      void this.reapOnce();
    }, delayMs);
  }

  private async reapOnce(): Promise<void> {
    if (this.reaping || this.state === "closed") return;
    this.reaping = true;
    let delayMs = this.reapIntervalMs;
    try {
      const result = await this.queue.reap(this.agent);
      if (result.reclaimed + result.deadLettered > 0) {
        this.log.info(result, "reaper returned expired leases");
      }
      delayMs = result.more ? 0 : this.reapDelay(result.nextDueAt);
    } catch (error) {
      this.log.debug(errorFields(error), "reaper run failed");
    } finally {
      this.reaping = false;
    }
    // Jitter only ever delays: workers sharing a queue spread out, and none looks too early.
    this.scheduleReap(Math.round(delayMs * (1 + Math.random() * 0.2)));
  }

  /**
   * Until the next lease deadline or retry the reaper saw, but at least one reaper period. At
   * most one lease length, so a lease claimed after this look (by a worker with the same lease
   * length, which then dies) cannot expire unseen for long; and at most 10 periods.
   */
  private reapDelay(nextDueAt: number | undefined): number {
    const longest = Math.max(this.reapIntervalMs, Math.min(this.leaseMs, 10 * this.reapIntervalMs));
    const untilDue = nextDueAt === undefined ? longest : nextDueAt - Date.now();
    return Math.min(longest, Math.max(this.reapIntervalMs, untilDue));
  }

  // ------------------------------------------------------------------ shutdown

  private stopClaiming(): void {
    if (this.state === "running" || this.state === "idle") this.state = "draining";
    // Interrupt a pending BZPOPMIN at once; pass on any wake-up it may have swallowed.
    if (this.blocking) {
      this.blocking.disconnect();
      void this.queue.wake(this.agent).catch(() => undefined);
    }
    this.notifySlot();
  }

  private async doDrain(timeoutMs: number): Promise<DrainSummary> {
    const started = Date.now();
    const inFlightAtStart = this.inFlight.size;
    this.stopClaiming();
    this.log.info({ inFlight: inFlightAtStart, timeoutMs }, "draining: claiming stopped");
    const deadline = started + Math.max(0, timeoutMs);
    while ((this.inFlight.size > 0 || this.reserved > 0) && Date.now() < deadline) {
      await Promise.race([
        new Promise<void>((resolve) => this.slotWaiters.push(resolve)),
        sleep(Math.min(100, Math.max(1, deadline - Date.now()))),
      ]);
    }
    const timedOut = this.inFlight.size > 0;
    const giveUpAt = deadline + DRAIN_SETTLE_GRACE_MS;
    const releasable = [...this.inFlight.values()].filter((r) => r.abandoned === undefined).length;
    const releasing = timedOut ? this.releaseAll("drain deadline reached") : Promise.resolve(0);
    const released = await settleBy(releasing, giveUpAt);
    await settleBy(
      this.loop?.catch(() => undefined),
      giveUpAt,
    );
    // Acks still in flight hold reservations; let them land so their outcome is recorded.
    while (this.reserved > 0 && Date.now() < giveUpAt) await sleep(5);
    const summary: DrainSummary = { finished: this.finishedWhileDraining, released: released ?? 0, timedOut };
    const unsettled = (released === undefined ? releasable : 0) + this.tasksSettling;
    if (unsettled > 0) {
      summary.unsettled = unsettled;
      this.log.warn(
        { unsettled, leaseMs: this.leaseMs },
        "Redis did not answer before the drain ended: leases left to expire; their tasks are redelivered",
      );
    }
    this.log.info({ ...summary, ms: Date.now() - started }, "drained");
    return summary;
  }
}

function publicTask(task: ClaimedTask): Task {
  const { token: _token, ...rest } = task;
  return rest;
}

/** `work`'s value, or undefined once `at` (Unix ms) passes first. */
async function settleBy<T>(work: Promise<T> | undefined, at: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, at - Date.now()));
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Settles with `work`, or rejects with the signal's reason as soon as it aborts. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(toError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(toError(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(toError(error));
      },
    );
  });
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(errorMessage(value));
}
