/**
 * Workers as real processes, killed and signalled: a SIGKILLed worker's task is redelivered
 * after its lease; a poison task that kills its worker is dead-lettered after exactly N
 * deliveries while the rest keeps flowing; SIGTERM drains without loss or leftover leases; a
 * second SIGTERM forces.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskQueue } from "../../agent-runtime/src/queue";
import {
  sleep,
  startRedis,
  startWorkerProcess,
  testQueue,
  waitUntil,
  type RedisServer,
  type ScriptProcess,
  type WorkerFixtureOptions,
} from "./support";

let server: RedisServer;
let raw: Redis;
const children: ScriptProcess[] = [];
const queues: TaskQueue[] = [];

beforeAll(async () => {
  server = await startRedis({ appendonly: false });
  raw = new Redis(server.url);
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill9()));
  await Promise.all(queues.map((q) => q.close()));
  raw.disconnect();
  await server.destroy();
});

function newQueue(): TaskQueue {
  const queue = testQueue(server.url);
  queues.push(queue);
  return queue;
}

async function worker(queue: TaskQueue, options: Partial<WorkerFixtureOptions> = {}): Promise<ScriptProcess> {
  const child = await startWorkerProcess({
    redisUrl: server.url,
    agent: "tester",
    prefix: queue.prefix,
    ...options,
    env: { REAP_INTERVAL_MS: "100", ...options.env },
  });
  children.push(child);
  return child;
}

const starts = (child: ScriptProcess, id?: string) =>
  child.events.filter((e) => e.event === "start" && (id === undefined || e.id === id));

describe("worker processes", () => {
  it("redelivers a SIGKILLed worker's task after its lease expires", async () => {
    const queue = newQueue();
    await queue.enqueue({
      id: "orphan",
      type: "test-run",
      input: { action: "sleep", ms: 60_000, untilDelivery: 1 },
    });
    const first = await worker(queue, { leaseMs: 1_000 });
    await first.waitForEvent((e) => e.event === "start" && e.id === "orphan");
    const second = await worker(queue, { leaseMs: 1_000 });
    await first.kill9();
    const redelivered = await second.waitForEvent((e) => e.event === "start" && e.id === "orphan", 60_000);
    expect(redelivered.deliveries).toBe(2);
    await waitUntil(async () => (await queue.getTask("orphan", "tester"))?.status === "succeeded");
    expect(await raw.zcard(queue.keys("tester").leases)).toBe(0);
    second.kill("SIGTERM");
    await second.exited;
  });

  it("dead-letters a poison task after exactly N deliveries, and every other task still finishes", async () => {
    const queue = newQueue();
    const N = 3;
    await queue.enqueue({ id: "poison", type: "test-run", priority: 0, input: { action: "crash" } });
    const ids = Array.from({ length: 100 }, (_, i) => `ok${i}`);
    for (const id of ids) {
      await queue.enqueue({
        id,
        type: "test-generation",
        input: { action: "sleep", ms: 20 },
        maxDeliveries: 10,
      });
    }
    const options = { leaseMs: 500, maxDeliveries: N, concurrency: 4 };
    const fleet = await Promise.all([worker(queue, options), worker(queue, options)]);
    // Supervisor: replace every worker the poison kills, like a Deployment would.
    let supervising = true;
    const supervisor = (async () => {
      while (supervising) {
        for (const [i, child] of fleet.entries()) {
          if (!child.running && supervising) fleet[i] = await worker(queue, options);
        }
        await sleep(50);
      }
    })();
    await waitUntil(async () => (await queue.getTask("poison", "tester"))?.status === "dead", {
      timeoutMs: 30_000,
    });
    await waitUntil(
      async () =>
        (await Promise.all(ids.map((id) => queue.getTask(id, "tester")))).every(
          (t) => t?.status === "succeeded",
        ),
      { timeoutMs: 20_000 },
    );
    supervising = false;
    await supervisor;
    const poison = await queue.getTask("poison", "tester");
    expect(poison?.deliveries).toBe(N);
    expect(poison?.error).toMatch(/^lease expired on delivery 3 of 3/);
    const poisonStarts = children.flatMap((c) => starts(c, "poison"));
    expect(poisonStarts).toHaveLength(N);
    // What must hold however slow the machine: each other task ran to success exactly once
    // counted (none lost to the crashes around it). How many finished before the poison's last
    // delivery depends on the clock, so it is not asserted.
    const okDone = await Promise.all(ids.map((id) => queue.getTask(id, "tester")));
    expect(okDone.filter((t) => t?.status !== "succeeded")).toEqual([]);
    expect(await queue.listDead("tester")).toHaveLength(1);
    expect(await raw.zcard(queue.keys("tester").leases)).toBe(0);
    for (const child of fleet) child.kill("SIGTERM");
    await Promise.all(fleet.map((c) => c.exited));
  });

  it("SIGTERM drains: finishes short tasks, releases long ones, loses nothing, leaves no lease", async () => {
    const queue = newQueue();
    await queue.enqueue({ id: "short1", type: "test-run", input: { action: "sleep", ms: 300 } });
    await queue.enqueue({ id: "short2", type: "test-run", input: { action: "sleep", ms: 400 } });
    await queue.enqueue({
      id: "long1",
      type: "test-run",
      input: { action: "sleep", ms: 60_000 },
    });
    await queue.enqueue({
      id: "long2",
      type: "test-run",
      input: { action: "sleep", ms: 60_000 },
    });
    const waiting = Array.from({ length: 20 }, (_, i) => `w${i}`);
    for (const id of waiting) await queue.enqueue({ id, type: "test-run", input: { action: "ok" } });

    const child = await worker(queue, { concurrency: 4, drainTimeoutSeconds: 1 });
    await waitUntil(() => starts(child).length >= 4);
    const startsBefore = starts(child).length;
    child.kill("SIGTERM");
    const drained = await child.waitForEvent((e) => e.event === "drained", 10_000);
    expect((await child.exited).code).toBe(0);
    expect(drained).toMatchObject({ finished: 2, released: 2, timedOut: true });
    expect(starts(child)).toHaveLength(startsBefore); // claiming stopped at once
    const keys = queue.keys("tester");
    expect(await raw.zcard(keys.leases)).toBe(0);
    expect(await raw.zcard(keys.ready)).toBe(22);

    // Everything still gets done by the next worker.
    const next = await worker(queue, { concurrency: 4, env: { FIXTURE_MAX_SLEEP_MS: "10" } });
    const all = ["short1", "short2", "long1", "long2", ...waiting];
    await waitUntil(
      async () =>
        (await Promise.all(all.map((id) => queue.getTask(id, "tester")))).every(
          (t) => t?.status === "succeeded",
        ),
      { timeoutMs: 15_000 },
    );
    expect((await queue.getTask("long1", "tester"))?.deliveries).toBe(1); // the release did not count
    next.kill("SIGTERM");
    await next.exited;
  });

  it("a second SIGTERM forces the shutdown and still hands the tasks back", async () => {
    const queue = newQueue();
    for (const id of ["h1", "h2"]) await queue.enqueue({ id, type: "test-run", input: { action: "hang" } });
    const child = await worker(queue, { concurrency: 2, drainTimeoutSeconds: 60 });
    await waitUntil(() => starts(child).length === 2);
    child.kill("SIGTERM");
    await sleep(200);
    expect(child.running).toBe(true); // still draining: the hung tasks would hold it for 60 s
    child.kill("SIGTERM");
    await child.waitForEvent((e) => e.event === "forced", 5_000);
    expect((await child.exited).code).toBe(1);
    expect(await queue.stats("tester")).toMatchObject({ inFlight: 0, ready: { P2: 2 } });
  });
});
