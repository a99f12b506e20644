/**
 * The Worker in-process against a real redis-server: throughput at concurrency, blocking without
 * polling, retries with backoff, lease renewal for long tasks, drain, and the env schema.
 */
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../agent-runtime/src/lib/log";
import { createMetrics } from "../../agent-runtime/src/lib/metrics";
import { retryDelayBounds, type Task, type TaskQueue } from "../../agent-runtime/src/queue";
import {
  EnvError,
  loadWorkerEnv,
  PermanentTaskError,
  Worker,
  type TaskHandler,
  type WorkerOptions,
} from "../../agent-runtime/src";
import { sleep, startRedis, testQueue, waitUntil, type RedisServer } from "./support";

let server: RedisServer;
let raw: Redis;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startRedis({ appendonly: false });
  raw = new Redis(server.url);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  raw.disconnect();
  await server.destroy();
});

const silent = createLogger({}, "silent");

function setup(execute: TaskHandler, options: Partial<WorkerOptions> = {}, queueOptions = {}) {
  const queue = testQueue(server.url, queueOptions);
  const metrics = createMetrics(undefined, { processMetrics: false });
  const worker = new Worker({
    queue,
    agent: "python",
    execute,
    concurrency: 4,
    logger: silent,
    metrics,
    ...options,
  });
  cleanups.push(async () => {
    await worker.close();
    await queue.close();
  });
  return { queue, worker, metrics };
}

async function enqueueMany(
  queue: TaskQueue,
  count: number,
  input: Record<string, unknown> = {},
  prefix = "t",
) {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  await Promise.all(ids.map((id) => queue.enqueue({ id, type: "code-generation", input })));
  return ids;
}

describe("Worker", () => {
  it("runs every task once at the configured concurrency and leaves no lease", async () => {
    let running = 0;
    let peak = 0;
    const seen = new Map<string, number>();
    const { queue, worker, metrics } = setup(
      async (task) => {
        running++;
        peak = Math.max(peak, running);
        seen.set(task.id, (seen.get(task.id) ?? 0) + 1);
        await sleep(2);
        running--;
        return { ok: task.id };
      },
      { concurrency: 10 },
    );
    const ids = await enqueueMany(queue, 300);
    worker.start();
    await waitUntil(async () => (await queue.stats("python")).inFlight === 0 && seen.size === 300, {
      timeoutMs: 20_000,
    });
    await waitUntil(async () => (await raw.zcard(queue.keys("python").leases)) === 0);
    expect(peak).toBe(10);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    const results = await Promise.all(ids.slice(0, 5).map((id) => queue.getTask(id, "python")));
    expect(results.map((r) => r?.status)).toEqual(Array(5).fill("succeeded"));
    expect(results[0]?.result).toEqual({ ok: "t0" });
    const total = await metrics.registry.getSingleMetricAsString("agent_tasks_total");
    expect(total).toContain('agent_tasks_total{agent_type="python",status="succeeded"} 300');
  });

  it("blocks without polling when idle and wakes at once on enqueue", async () => {
    const started: number[] = [];
    const { queue, worker } = setup(
      async () => {
        started.push(Date.now());
        return null;
      },
      { blockTimeoutMs: 60_000 },
    );
    worker.start();
    await sleep(200); // settle into the blocking wait
    await raw.config("RESETSTAT");
    await sleep(1_500);
    const info = await raw.info("commandstats");
    // Idle for 1.5 s: the reaper's timer (1 s) and at most one re-issued BZPOPMIN, nothing else.
    const calls = [...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)]
      .filter(([, name]) => name !== "info" && name !== "config")
      .reduce((sum, [, , n]) => sum + Number(n), 0);
    expect(calls).toBeLessThanOrEqual(12);
    // The marker wakes it: without the wake-up, the task would wait for the 60 s block timeout.
    await queue.enqueue({ type: "code-generation", input: {} });
    await waitUntil(() => started.length === 1, { timeoutMs: 30_000, message: "the woken worker to start" });
  });

  it("several workers on one queue share the backlog and all wake up", async () => {
    const counts = new Map<string, number>();
    const prefix = testQueue(server.url).prefix;
    const workers = Array.from({ length: 3 }, (_, w) =>
      setup(
        async (task) => {
          counts.set(task.id, (counts.get(task.id) ?? 0) + 1);
          await sleep(5);
          return w;
        },
        { concurrency: 2, workerId: `w${w}` },
        { prefix },
      ),
    );
    for (const { worker } of workers) worker.start();
    await sleep(100); // all three blocked on the marker
    const queue = workers[0]!.queue;
    await enqueueMany(queue, 60);
    await waitUntil(() => counts.size === 60, { timeoutMs: 10_000 });
    const perWorker = await Promise.all(
      Array.from({ length: 60 }, (_, i) => queue.getTask(`t${i}`, "python").then((t) => t?.worker)),
    );
    // Each of the three did a share: the wake-up passed from one blocked worker to the next.
    expect(new Set(perWorker).size).toBe(3);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it("retries a failing task with backoff, then dead-letters it after maxDeliveries", async () => {
    const starts: number[] = [];
    const backoff = { baseMs: 200, maxMs: 1_000 };
    const { queue, worker } = setup(
      async () => {
        starts.push(Date.now());
        throw new Error("upstream 503");
      },
      { backoff, reapIntervalMs: 50 },
    );
    await queue.enqueue({ id: "flaky", type: "code-generation", input: {}, maxDeliveries: 4 });
    worker.start();
    await waitUntil(async () => (await queue.getTask("flaky", "python"))?.status === "dead", {
      timeoutMs: 10_000,
    });
    expect(starts).toHaveLength(4);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    for (const [i, gap] of gaps.entries()) {
      const [low] = retryDelayBounds(i + 1, backoff);
      // Never early; how late depends on the machine's load (the delays themselves are checked
      // against their bounds in queue.test.ts).
      expect(gap).toBeGreaterThanOrEqual(low - 5);
    }
    const record = await queue.getTask("flaky", "python");
    expect(record).toMatchObject({ deliveries: 4, error: "upstream 503" });
    expect((await queue.listDead("python")).map((t) => t.id)).toEqual(["flaky"]);
  });

  it("succeeds on a later delivery after transient failures", async () => {
    const attempts = new Map<string, number>();
    const { queue, worker } = setup(
      async (task: Task) => {
        const n = (attempts.get(task.id) ?? 0) + 1;
        attempts.set(task.id, n);
        if (n < 3) throw new Error(`attempt ${n} failed`);
        return { attempts: n, deliveries: task.deliveries };
      },
      { backoff: { baseMs: 20, maxMs: 100 }, reapIntervalMs: 20 },
    );
    await queue.enqueue({ id: "eventually", type: "code-generation", input: {} });
    worker.start();
    await waitUntil(async () => (await queue.getTask("eventually", "python"))?.status === "succeeded");
    expect((await queue.getTask("eventually", "python"))?.result).toEqual({ attempts: 3, deliveries: 3 });
  });

  it("fails a task for good on a non-retryable error", async () => {
    const { queue, worker } = setup(async () => {
      throw new PermanentTaskError("prompt rejected by the model API (400)");
    });
    await queue.enqueue({ id: "bad", type: "code-generation", input: {} });
    worker.start();
    await waitUntil(async () => (await queue.getTask("bad", "python"))?.status === "failed");
    expect((await queue.getTask("bad", "python"))?.deliveries).toBe(1);
  });

  it("renews the leases of long tasks so they are not redelivered", async () => {
    let runs = 0;
    const { queue, worker } = setup(
      async () => {
        runs++;
        await sleep(1_200);
        return "long";
      },
      { leaseMs: 300, reapIntervalMs: 50, concurrency: 3 },
    );
    await enqueueMany(queue, 3);
    worker.start();
    await waitUntil(async () => (await queue.getTask("t2", "python"))?.status === "succeeded", {
      timeoutMs: 5_000,
    });
    expect(runs).toBe(3);
  });

  it("times out a task that overruns and retries it", async () => {
    const signals: AbortSignal[] = [];
    const { queue, worker } = setup(
      async (task, signal) => {
        signals.push(signal);
        if (task.deliveries === 1) await new Promise((resolve) => setTimeout(resolve, 5_000));
        return "second time lucky";
      },
      { backoff: { baseMs: 10, maxMs: 10 }, reapIntervalMs: 20 },
    );
    await queue.enqueue({ id: "slow", type: "code-generation", input: {}, timeoutMs: 100 });
    worker.start();
    await waitUntil(async () => (await queue.getTask("slow", "python"))?.status === "succeeded");
    expect(signals[0]?.aborted).toBe(true);
    expect(String((signals[0]?.reason as Error).message)).toContain("timed out after 100 ms");
  });

  it("caps a task's own timeout at the worker's: a task may ask for less time, never more", async () => {
    const signals: AbortSignal[] = [];
    const { queue, worker } = setup(
      async (_task, signal) => {
        signals.push(signal);
        await new Promise((resolve) => setTimeout(resolve, 10_000));
      },
      { taskTimeoutMs: 150, backoff: { baseMs: 10, maxMs: 10 }, reapIntervalMs: 20 },
    );
    // One hour asked for; the agent's limit (what its pods' grace period is sized for) wins.
    await queue.enqueue({
      id: "greedy",
      type: "code-generation",
      input: {},
      timeoutMs: 3_600_000,
      maxDeliveries: 1,
    });
    worker.start();
    await waitUntil(async () => (await queue.getTask("greedy", "python"))?.status === "dead");
    expect(String((signals[0]?.reason as Error).message)).toContain("timed out after 150 ms");
  });

  it("drain stops claiming at once, finishes what it can and releases the rest", async () => {
    const started: string[] = [];
    const { queue, worker } = setup(
      async (task, signal) => {
        started.push(task.id);
        const ms = task.input.ms as number;
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(new Error("aborted"));
          });
        });
        return ms;
      },
      { concurrency: 4 },
    );
    await queue.enqueue({ id: "short1", type: "code-generation", input: { ms: 100 } });
    await queue.enqueue({ id: "short2", type: "code-generation", input: { ms: 150 } });
    await queue.enqueue({ id: "long1", type: "code-generation", input: { ms: 60_000 } });
    await queue.enqueue({ id: "long2", type: "code-generation", input: { ms: 60_000 } });
    await enqueueMany(queue, 10, { ms: 1 }, "waiting");
    worker.start();
    await waitUntil(() => started.length === 4);
    const summary = await worker.drain(600);
    expect(summary).toEqual({ finished: 2, released: 2, timedOut: true });
    expect(started).toHaveLength(4); // nothing claimed after the drain began
    const keys = queue.keys("python");
    expect(await raw.zcard(keys.leases)).toBe(0);
    expect(await raw.zcard(keys.ready)).toBe(12);
    expect((await queue.getTask("long1", "python"))?.status).toBe("queued");
    expect((await queue.getTask("long1", "python"))?.deliveries).toBe(0);
    expect((await queue.getTask("short1", "python"))?.status).toBe("succeeded");
  });

  it("forceStop releases in-flight tasks immediately", async () => {
    const { queue, worker } = setup(async () => new Promise(() => undefined));
    await enqueueMany(queue, 2);
    worker.start();
    await waitUntil(async () => (await queue.stats("python")).inFlight === 2);
    await worker.forceStop(); // the tasks never finish: waiting for them would never return
    expect(await queue.stats("python")).toMatchObject({ inFlight: 0, ready: { P2: 2 } });
  });
});

describe("loadWorkerEnv", () => {
  const base = { AGENT_TYPE: "python", REDIS_URL: "redis://redis:6379/0" };

  it("fills the contract's defaults", () => {
    const env = loadWorkerEnv(base);
    expect(env).toMatchObject({
      REDIS_URL: "redis://redis:6379/0",
      AGENT_TYPE: "python",
      CONCURRENCY: 4,
      QUEUE_PREFIX: "fleet",
      DRAIN_TIMEOUT_SECONDS: 50,
      LEASE_MS: 30_000,
      MAX_DELIVERIES: 5,
      PORT: 8080,
      LOG_LEVEL: "info",
    });
    expect(env.WORKER_ID).toMatch(/-\d+$/);
    expect(env.REDIS_PASSWORD).toBeUndefined();
    expect(loadWorkerEnv({ ...base, CONCURRENCY: " 12 ", REDIS_PASSWORD: "" }).CONCURRENCY).toBe(12);
  });

  it.each([
    [{ AGENT_TYPE: "chef" }, "AGENT_TYPE", 'AGENT_TYPE="chef": must be one of python, frontend'],
    [{ AGENT_TYPE: undefined }, "AGENT_TYPE", "AGENT_TYPE=(unset): required: one of python"],
    [{ CONCURRENCY: "lots" }, "CONCURRENCY", 'CONCURRENCY="lots": must be an integer from 1 to 1000'],
    [{ CONCURRENCY: "0" }, "CONCURRENCY", "must be an integer from 1 to 1000"],
    [{ REDIS_URL: "http://x" }, "REDIS_URL", "REDIS_URL=(hidden): must be a redis:// or rediss:// URL"],
    [{ QUEUE_PREFIX: "a{b}" }, "QUEUE_PREFIX", 'QUEUE_PREFIX="a{b}": must be 1-64 letters'],
    [{ DRAIN_TIMEOUT_SECONDS: "-1" }, "DRAIN_TIMEOUT_SECONDS", "must be an integer from 0 to 86400"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", 'LOG_LEVEL="loud": must be one of fatal, error'],
  ])("names the bad variable: %o", (patch, variable, message) => {
    const error = (() => {
      try {
        loadWorkerEnv({ ...base, ...patch });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(EnvError);
    expect((error as EnvError).variables).toEqual([variable]);
    expect((error as EnvError).message).toContain(message);
    expect((error as EnvError).message).toMatch(/^invalid worker environment:/);
  });
});

describe("Worker logging", () => {
  it("binds agent and worker once, also under a logger that already carries them (the agent process's)", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    });
    const processLogger = pino({ level: "info" }, sink).child({ agent: "python", worker: "w-1" });
    const { worker } = setup(() => Promise.resolve("ok"), { logger: processLogger, workerId: "w-1" });
    worker.start();
    await waitUntil(() => lines.some((l) => l.includes("worker started")));
    for (const line of lines) {
      expect(line.match(/"agent":/g), line).toHaveLength(1);
      expect(line.match(/"worker":/g), line).toHaveLength(1);
    }
  });
});
