/**
 * Faults between the client and Redis, against a real redis-server:
 *   - a reply lost after Redis ran the command (a TCP proxy drops it and cuts the connection;
 *     ioredis reconnects and resends): each call must answer as if it had run once
 *     (docs/queue-protocol.md, "Resent calls answer as the first run did");
 *   - Redis unreachable during a drain: the drain still ends (DRAIN_SETTLE_GRACE_MS after its
 *     deadline) and the tasks are redelivered once Redis is back: none lost.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../agent-runtime/src/lib/log";
import { createMetrics } from "../../agent-runtime/src/lib/metrics";
import { TaskQueue, loadScripts, type ClaimedTask } from "../../agent-runtime/src/queue";
import type { TaskOutcome } from "../../agent-runtime/src/lib/metrics";
import { Worker } from "../../agent-runtime/src/worker";
import {
  startFaultProxy,
  startRedis,
  uniquePrefix,
  waitUntil,
  type FaultProxy,
  type RedisServer,
} from "./support";

let server: RedisServer;
let raw: Redis;
let proxy: FaultProxy;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  server = await startRedis({ appendonly: true, appendfsync: "always" });
  raw = new Redis(server.url);
  raw.on("error", () => undefined); // the drain test kills Redis under it
  proxy = await startFaultProxy(server.port);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  raw.disconnect();
  await proxy.close();
  await server.destroy();
});

/** A queue whose connection goes through the proxy; the scripts are loaded up front so a dropped
 * reply is the script's own reply, never a NOSCRIPT answer. */
async function proxiedQueue(): Promise<TaskQueue> {
  for (const script of Object.values(loadScripts())) await raw.script("LOAD", script.source);
  const queue = new TaskQueue({ redis: proxy.url, prefix: uniquePrefix("lost") });
  cleanups.push(() => queue.close(1_000));
  await queue.ping();
  return queue;
}

const W = { leaseMs: 60_000, workerId: "w1" };

async function enqueueIds(queue: TaskQueue, ids: string[]): Promise<void> {
  for (const id of ids) await queue.enqueue({ id, type: "code-generation", input: { prompt: id } });
}

async function leaseMembers(queue: TaskQueue): Promise<string[]> {
  return (await raw.zrange(queue.keys("python").leases, "0", "-1")).sort();
}

function leasesOf(tasks: readonly ClaimedTask[]): string[] {
  return tasks.map((t) => `${t.id}|${t.token}`).sort();
}

describe("a reply lost after Redis ran the call", () => {
  it("enqueue: the submitter is told created, not duplicate, and the task is queued once", async () => {
    const queue = await proxiedQueue();
    const dropped = proxy.dropNextReply();
    const result = await queue.enqueue({ id: "once", type: "code-generation", input: { prompt: "x" } });
    await dropped;
    expect(result).toMatchObject({ id: "once", created: true, duplicate: false, status: "queued" });
    expect(await raw.zrange(queue.keys("python").ready, "0", "-1")).toEqual(["once"]);
    // Idempotency by id is unchanged for a second, real submit.
    const again = await queue.enqueue({ id: "once", type: "code-generation", input: { prompt: "x" } });
    expect(again).toMatchObject({ created: false, duplicate: true });
  });

  it("claim: the resend returns the same tasks with the same leases and claims no more", async () => {
    const queue = await proxiedQueue();
    await enqueueIds(queue, ["a", "b", "c", "d"]);
    const dropped = proxy.dropNextReply();
    const claimed = await queue.claim("python", { count: 2, ...W });
    await dropped;
    expect(claimed.map((t) => t.id)).toEqual(["a", "b"]);
    expect(claimed.map((t) => t.deliveries)).toEqual([1, 1]);
    expect(await leaseMembers(queue)).toEqual(leasesOf(claimed));
    expect(await raw.zrange(queue.keys("python").ready, "0", "-1")).toEqual(["c", "d"]);
  });

  it("ack: the saved result counts as acked, and the fused claim leases only what it returns", async () => {
    const queue = await proxiedQueue();
    await enqueueIds(queue, ["a", "b", "c"]);
    const [first] = await queue.claim("python", { count: 1, ...W });
    if (!first) throw new Error("nothing claimed");
    const dropped = proxy.dropNextReply();
    const reply = await queue.ack(first, { ok: true }, { count: 1, ...W });
    await dropped;
    expect(reply.acked).toBe(true);
    expect(reply.next.map((t) => t.id)).toEqual(["b"]);
    expect(await leaseMembers(queue)).toEqual(leasesOf(reply.next));
    expect((await queue.getTask("a", "python"))?.status).toBe("succeeded");
    expect(await raw.zrange(queue.keys("python").ready, "0", "-1")).toEqual(["c"]);
  });

  it("fail: the resend returns the outcome the first run recorded, not lease-lost", async () => {
    const queue = await proxiedQueue();
    await enqueueIds(queue, ["a", "b", "c"]);
    const [a] = await queue.claim("python", { count: 1, ...W });
    if (!a) throw new Error("nothing claimed");
    let dropped = proxy.dropNextReply();
    const retrying = await queue.fail(
      a,
      { error: "flaky", retryable: true, delayMs: 60_000 },
      { count: 1, ...W },
    );
    await dropped;
    expect(retrying.outcome).toBe("retrying");
    expect(retrying.next.map((t) => t.id)).toEqual(["b"]);
    expect(await leaseMembers(queue)).toEqual(leasesOf(retrying.next));
    expect(await raw.zrange(queue.keys("python").delayed, "0", "-1")).toEqual(["a"]);

    const [b] = retrying.next;
    if (!b) throw new Error("nothing claimed");
    dropped = proxy.dropNextReply();
    const failed = await queue.fail(b, { error: "bad input", retryable: false, delayMs: 0 });
    await dropped;
    expect(failed.outcome).toBe("failed");
    expect(await leaseMembers(queue)).toEqual([]);
  });

  it("a worker whose replies are dropped runs every task once, with no lease lost or left", async () => {
    const queue = await proxiedQueue();
    const ids = Array.from({ length: 30 }, (_, i) => `w${i}`);
    await enqueueIds(queue, ids);
    const runs = new Map<string, number>();
    const outcomes: TaskOutcome[] = [];
    const worker = new Worker({
      queue,
      agent: "python",
      concurrency: 2,
      leaseMs: 60_000,
      blockTimeoutMs: 100,
      logger: createLogger({}, "silent"),
      metrics: createMetrics(),
      execute: async (task) => {
        runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return task.id;
      },
      hooks: { onFinish: (_task, outcome) => outcomes.push(outcome) },
    });
    cleanups.push(() => worker.close());
    worker.start();
    // Three replies dropped, one after the other, while the tasks flow.
    for (let drop = 0; drop < 3; drop++) await proxy.dropNextReply();
    await waitUntil(() => outcomes.length >= ids.length, {
      timeoutMs: 60_000,
      message: "every task to finish",
    });
    expect(outcomes.filter((o) => o !== "succeeded")).toEqual([]);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect([...runs.keys()].sort()).toEqual([...ids].sort());
    await waitUntil(async () => (await leaseMembers(queue)).length === 0, { message: "no lease left" });
  });
});

describe("Redis unreachable during a drain", () => {
  it("the drain ends after its deadline plus the settle grace, and the tasks come back", async () => {
    const prefix = uniquePrefix("drain");
    const queue = new TaskQueue({ redis: server.url, prefix });
    cleanups.push(() => queue.close(1_000));
    const started: string[] = [];
    const worker = new Worker({
      queue,
      agent: "python",
      concurrency: 2,
      leaseMs: 1_000,
      logger: createLogger({}, "silent"),
      metrics: createMetrics(),
      execute: (task, signal) =>
        new Promise((_resolve, reject) => {
          started.push(task.id);
          signal.addEventListener("abort", () => reject(new Error("aborted")));
        }),
    });
    cleanups.push(() => worker.close());
    await enqueueIds(queue, ["x", "y"]);
    worker.start();
    await waitUntil(() => started.length === 2, { message: "both tasks to start" });
    await server.kill9();
    // Without a bound, releasing the leases waits for Redis for ever: this await never returns.
    const summary = await worker.drain(200);
    expect(summary).toMatchObject({ timedOut: true, released: 0, unsettled: 2 });

    await server.restart();
    const after = new TaskQueue({ redis: server.url, prefix });
    cleanups.push(() => after.close(1_000));
    // The unreleased leases expire and the reaper puts both tasks back: nothing was lost.
    await waitUntil(
      async () => {
        await after.reap("python");
        return (await after.stats("python")).ready.P2 === 2;
      },
      { timeoutMs: 30_000, message: "both tasks back in ready" },
    );
    expect((await after.getTask("x", "python"))?.status).toBe("retrying");
  }, 60_000);
});
