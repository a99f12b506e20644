/**
 * `kill -9` of Redis in the middle of work, then a restart from its AOF on the same port and dir.
 * What survives, per persistence setting (docs/queue-protocol.md, "Durability"):
 *   aof-always    every acknowledged write is on disk before the reply: survives kill -9 and power loss
 *   aof-everysec  written to the OS before the reply, fsynced once a second: survives a kill -9 of
 *                 Redis in practice (measured below), except that Redis postpones the write for up
 *                 to 2 s while a slow background fsync runs; a machine crash loses the last ~1-2 s
 *   none          nothing on disk: a kill -9 loses the whole queue
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../agent-runtime/src/lib/log";
import { createMetrics } from "../../agent-runtime/src/lib/metrics";
import { TaskQueue } from "../../agent-runtime/src/queue";
import { Worker } from "../../agent-runtime/src/worker";
import { sleep, startRedis, uniquePrefix, waitUntil, type AppendFsync, type RedisServer } from "./support";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // A client closing against a Redis that a scenario killed can wait forever; a cleanup that does
  // not finish in 10 s is abandoned (its Redis process is destroyed by its own cleanup).
  for (const cleanup of cleanups.splice(0).reverse()) {
    await Promise.race([cleanup(), sleep(10_000)]);
  }
}, 120_000);

async function server(options: { appendonly: boolean; appendfsync?: AppendFsync }): Promise<RedisServer> {
  const redis = await startRedis(options);
  cleanups.push(() => redis.destroy());
  return redis;
}

function queueOn(redis: RedisServer, prefix: string): TaskQueue {
  // Generous delivery budget: a loaded CI machine can let leases lapse around a restart.
  const queue = new TaskQueue({ redis: redis.url, prefix, defaultMaxDeliveries: 50 });
  cleanups.push(() => queue.close());
  return queue;
}

interface CrashReport {
  enqueued: number;
  acked: number;
  /** Enqueues acknowledged before a crash, gone after it. */
  lostEnqueues: string[];
  /** Results acknowledged before a crash, not "succeeded" after it. */
  lostResults: string[];
  /** Tasks present at the end that never reached succeeded (stuck or lost leases). */
  unfinished: string[];
}

/** A producer and a worker at full speed; Redis is SIGKILLed and restarted twice meanwhile. */
async function crashScenario(appendfsync: AppendFsync): Promise<CrashReport> {
  const redis = await server({ appendonly: true, appendfsync });
  const prefix = uniquePrefix();
  const producer = queueOn(redis, prefix);
  const workerQueue = queueOn(redis, prefix);
  const acked = new Set<string>();
  const worker = new Worker({
    queue: workerQueue,
    agent: "data",
    concurrency: 8,
    leaseMs: 2_000,
    reapIntervalMs: 100,
    logger: createLogger({}, "silent"),
    metrics: createMetrics(undefined, { processMetrics: false }),
    execute: async (task) => {
      await sleep(1);
      return { n: task.input.n };
    },
    hooks: { onFinish: (task, outcome) => outcome === "succeeded" && acked.add(task.id) },
  });
  cleanups.push(() => worker.close());
  worker.start();

  // A steady producer; an enqueue counts once its reply arrived.
  const enqueued = new Set<string>();
  let producing = true;
  const production = (async () => {
    for (let n = 0; producing; n++) {
      const id = `d${n}`;
      try {
        await producer.enqueue({ id, type: "data-analysis", input: { n } });
        enqueued.add(id);
      } catch {
        await sleep(10); // not acknowledged, so not counted
      }
      if (n % 20 === 0) await sleep(1);
    }
  })();

  const report: CrashReport = { enqueued: 0, acked: 0, lostEnqueues: [], lostResults: [], unfinished: [] };
  try {
    // Generous limits: these wait for progress, they do not time it (a loaded CI machine is slow).
    await waitUntil(() => acked.size >= 300, { timeoutMs: 120_000 });
    for (let crash = 0; crash < 2; crash++) {
      const ackedBefore = new Set(acked);
      const ids = [...enqueued];
      await redis.kill9();
      await sleep(200);
      await redis.start();
      const check = new Redis(redis.url);
      const pipeline = check.pipeline();
      for (const id of ids) pipeline.hmget(producer.keys("data").task(id), "payload", "status");
      // No payload: the task is gone. No status field: still queued (never claimed).
      const statuses = ((await pipeline.exec()) ?? []).map(([, value]) => {
        const [payload, status] = value as [string | null, string | null];
        return payload === null ? null : (status ?? "queued");
      });
      check.disconnect();
      report.lostEnqueues.push(...ids.filter((_, i) => statuses[i] === null));
      report.lostResults.push(...ids.filter((id, i) => ackedBefore.has(id) && statuses[i] !== "succeeded"));
      await waitUntil(() => acked.size >= ackedBefore.size + 200, { timeoutMs: 120_000 });
    }
  } finally {
    producing = false;
    await production;
  }

  // Whatever the server still holds runs to completion: no stuck lease, nothing left behind.
  await waitUntil(
    async () => {
      const stats = await producer.stats("data");
      return stats.inFlight + stats.ready.P2 + stats.delayed === 0;
    },
    { timeoutMs: 120_000, message: "the queue to empty" },
  );
  const records = await Promise.all([...enqueued].map((id) => producer.getTask(id, "data")));
  report.unfinished = records
    .filter((r) => r !== undefined && r.status !== "succeeded")
    .map((r) => r?.id ?? "");
  report.enqueued = enqueued.size;
  report.acked = acked.size;
  return report;
}

describe("Redis kill -9 and restart from the AOF", () => {
  it("appendfsync always: loses no acknowledged enqueue or result, and finishes every task", async () => {
    const report = await crashScenario("always");
    expect(report.lostEnqueues).toEqual([]);
    expect(report.lostResults).toEqual([]);
    expect(report.unfinished).toEqual([]);
    expect(report.enqueued).toBeGreaterThan(500);
  });

  it("appendfsync everysec: recovers with nothing stuck; reports any acknowledged write lost", async () => {
    const report = await crashScenario("everysec");
    // Not asserted: on a slow disk Redis may reply before its AOF write (it postpones the write
    // up to 2 s while a background fsync runs). See docs/queue-protocol.md, "Durability".
    console.info(
      `[durability] everysec, 2 kill -9: ${report.enqueued} enqueued, ${report.lostEnqueues.length} acknowledged ` +
        `enqueues lost, ${report.lostResults.length} acknowledged results lost`,
    );
    expect(report.unfinished).toEqual([]);
  });
});

describe("Redis kill -9 without persistence", () => {
  it("loses the queue (why the fleet runs Redis with an AOF)", async () => {
    const redis = await server({ appendonly: false });
    const queue = queueOn(redis, uniquePrefix());
    for (let i = 0; i < 10; i++) await queue.enqueue({ type: "sql-query", input: { i } });
    expect((await queue.stats("data")).ready.P2).toBe(10);
    await redis.kill9();
    await redis.start();
    await waitUntil(async () => (await queue.stats("data")).ready.P2 === 0, { timeoutMs: 10_000 });
  });
});
