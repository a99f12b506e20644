/**
 * The queue protocol against a real redis-server: ordering, idempotency, validation, leases,
 * retries, dead letters, statistics. One server for the file; one key prefix per test.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  InvalidTaskError,
  TaskQueue,
  loadScripts,
  queueKeys,
  retryDelayBounds,
  retryDelayMs,
  type ClaimedTask,
} from "../../agent-runtime/src/queue";
import { keysUnder, sleep, startRedis, testQueue, type RedisServer } from "./support";

let server: RedisServer;
let raw: Redis;
const queues: TaskQueue[] = [];

beforeAll(async () => {
  server = await startRedis({ appendonly: false });
  raw = new Redis(server.url);
});

afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  raw.disconnect();
  await server.destroy();
});

function newQueue(options: Partial<ConstructorParameters<typeof TaskQueue>[0]> = {}): TaskQueue {
  const queue = testQueue(server.url, options);
  queues.push(queue);
  return queue;
}

const W = { leaseMs: 30_000, workerId: "test-worker" };

describe("ordering", () => {
  it("claims strictly by priority, FIFO within a priority", async () => {
    const queue = newQueue();
    const submitted: { id: string; priority: number; index: number }[] = [];
    // Interleave priorities; sequential enqueues so the order within a band is well defined.
    for (let index = 0; index < 60; index++) {
      const priority = [3, 1, 2, 0, 2, 1][index % 6] ?? 0;
      const id = `t${index}`;
      await queue.enqueue({ id, type: "code-generation", priority, input: { index } });
      submitted.push({ id, priority, index });
    }
    const expected = [...submitted]
      .sort((a, b) => a.priority - b.priority || a.index - b.index)
      .map((t) => t.id);
    const claimed: string[] = [];
    // One at a time and in batches: both must give the same order.
    for (const count of [1, 7, 1, 13, 50]) {
      const tasks = await queue.claim("python", { count, ...W });
      claimed.push(...tasks.map((t) => t.id));
    }
    expect(claimed).toEqual(expected);
  });

  it("a higher-priority task enqueued later overtakes a backlog", async () => {
    const queue = newQueue();
    for (let i = 0; i < 20; i++)
      await queue.enqueue({ id: `low${i}`, type: "research", priority: 3, input: {} });
    await queue.enqueue({ id: "urgent", type: "research", priority: 0, input: {} });
    const [first] = await queue.claim("researcher", { count: 1, ...W });
    expect(first?.id).toBe("urgent");
  });

  it("score = priority × 2^50 + seq, so FIFO holds across a large sequence", async () => {
    const queue = newQueue();
    const keys = queue.keys("data");
    await raw.set(keys.seq, String(2 ** 49)); // far into the sequence: still exact in a double
    await queue.enqueue({ id: "a", type: "sql-query", priority: 1, input: {} });
    await queue.enqueue({ id: "b", type: "sql-query", priority: 1, input: {} });
    const scores = await raw.zrange(keys.ready, "0", "-1", "WITHSCORES");
    expect(scores).toEqual(["a", String(2 ** 50 + 2 ** 49 + 1), "b", String(2 ** 50 + 2 ** 49 + 2)]);
  });
});

describe("idempotent enqueue", () => {
  it("1,000 concurrent submits of one id create exactly one task", async () => {
    const prefix = newQueue().prefix;
    // Ten connections, so the submits really race on the server.
    const producers = Array.from({ length: 10 }, () => newQueue({ prefix }));
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        producers[i % 10]!.enqueue({ id: "same-id", type: "code-review", priority: i % 4, input: { i } }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results.filter((r) => r.duplicate)).toHaveLength(999);
    const keys = queueKeys("reviewer", prefix);
    expect(await raw.zcard(keys.ready)).toBe(1);
    expect(await raw.get(keys.seq)).toBe("1");
    const tasks = await producers[0]!.claim("reviewer", { count: 10, ...W });
    expect(tasks.map((t) => t.id)).toEqual(["same-id"]);
  });

  it("a duplicate reports the existing task's status and changes nothing", async () => {
    const queue = newQueue();
    await queue.enqueue({ id: "x1", type: "webhook", input: { v: 1 } });
    const [task] = await queue.claim("integration", { count: 1, ...W });
    const again = await queue.enqueue({ id: "x1", type: "webhook", input: { v: 2 } });
    expect(again).toMatchObject({ created: false, duplicate: true, status: "running" });
    await queue.ack(task!, "done");
    expect(await queue.enqueue({ id: "x1", type: "webhook", input: { v: 3 } })).toMatchObject({
      duplicate: true,
      status: "succeeded",
    });
    expect((await queue.getTask("x1"))?.input).toEqual({ v: 1 });
  });
});

describe("validation", () => {
  const bad: [string, unknown, string][] = [
    ["unknown type", { type: "make-coffee", input: {} }, "type"],
    ["missing type", { input: {} }, "type"],
    ["priority out of range", { type: "research", priority: 7, input: {} }, "priority"],
    ["fractional priority", { type: "research", priority: 1.5, input: {} }, "priority"],
    ["input is an array", { type: "research", input: [1, 2] }, "input"],
    ["input is a string", { type: "research", input: "hello" }, "input"],
    ["missing input", { type: "research" }, "input"],
    ["id with spaces", { id: "a b", type: "research", input: {} }, "id"],
    ["id too long", { id: "a".repeat(129), type: "research", input: {} }, "id"],
    ["id with a brace", { id: "{python}", type: "research", input: {} }, "id"],
    ["maxDeliveries 0", { type: "research", input: {}, maxDeliveries: 0 }, "maxDeliveries"],
    ["unknown field", { type: "research", input: {}, colour: "red" }, ""],
    ["not an object", "research", ""],
  ];

  it.each(bad)("rejects %s with a clear error and enqueues nothing", async (_name, submission, field) => {
    const queue = newQueue();
    const error = await queue.enqueue(submission).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidTaskError);
    const invalid = error as InvalidTaskError;
    expect(invalid.message).toMatch(/^invalid task: /);
    if (field) {
      expect(invalid.field).toBe(field);
      expect(invalid.message).toContain(`${field}: `);
    }
    expect(await keysUnder(raw, queue.prefix)).toEqual([]);
  });

  it("rejects an input over 1 MiB", async () => {
    const queue = newQueue();
    const error = await queue
      .enqueue({ type: "research", input: { blob: "x".repeat(1024 * 1024) } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidTaskError);
    expect((error as Error).message).toContain("input: must be at most 1048576 bytes");
    expect(await keysUnder(raw, queue.prefix)).toEqual([]);
  });

  it("the Lua script validates producers in other languages too (raw EVALSHA)", async () => {
    const queue = newQueue();
    const keys = queue.keys("python");
    const script = loadScripts()["enqueue.v1"];
    const run = (id: string, args: Partial<Record<number, string>>) => {
      const argv = [id, "code-generation", "1", '{"prompt":"x"}', "", "", "", String(Date.now())];
      for (const [i, v] of Object.entries(args)) argv[Number(i)] = v ?? "";
      return script.run(raw, [keys.task(id), keys.ready, keys.seq, keys.marker], argv);
    };
    const cases: [Partial<Record<number, string>>, RegExp][] = [
      [{ 2: "9" }, /^priority: must be 0, 1, 2 or 3/],
      [{ 2: "" }, /^priority/],
      [{ 1: "Not A Type" }, /^type: /],
      [{ 3: "[1,2]" }, /^input: must be a JSON object/],
      [{ 3: "{broken" }, /^input: must be a JSON object/],
      [{ 4: "0" }, /^maxDeliveries: /],
      [{ 5: "-5" }, /^timeoutMs: /],
      [{ 6: "yesterday" }, /^createdAt: /],
      [{ 7: "soon" }, /^nowMs: /],
    ];
    for (const [args, message] of cases) {
      const reply = (await run("ok-id", args)) as [number, string];
      expect(reply[0]).toBe(-3);
      expect(reply[1]).toMatch(message);
    }
    // A key that does not match the id is refused too (it would break idempotency).
    const mismatch = (await script.run(
      raw,
      [keys.task("other"), keys.ready, keys.seq, keys.marker],
      ["ok-id", "code-generation", "1", "{}", "", "", "", "1"],
    )) as [number, string];
    expect(mismatch).toEqual([-3, expect.stringMatching(/^KEYS\[1\]: /) as unknown]);
    expect(await keysUnder(raw, queue.prefix)).toEqual([]);
    // And a valid raw call works: the documented protocol is all a producer needs.
    expect(await run("ok-id", {})).toEqual([1, "ok-id", 1]);
  });
});

describe("lifecycle", () => {
  it("ack stores the result with a TTL and claims the next task in the same call", async () => {
    const queue = newQueue({ resultTtlMs: 60_000 });
    await queue.enqueue({ id: "a", type: "planning", input: {} });
    await queue.enqueue({ id: "b", type: "planning", input: {} });
    const [a] = await queue.claim("coordinator", { count: 1, ...W });
    expect(a).toMatchObject({ id: "a", deliveries: 1, type: "planning", priority: 2 });
    expect((await queue.getTask("a"))?.status).toBe("running");
    const { acked, next } = await queue.ack(a!, { answer: 42 }, { count: 1, ...W });
    expect(acked).toBe(true);
    expect(next.map((t) => t.id)).toEqual(["b"]);
    const record = await queue.getTask("a");
    expect(record).toMatchObject({
      status: "succeeded",
      result: { answer: 42 },
      deliveries: 1,
      agent: "coordinator",
    });
    const ttl = await raw.pttl(queue.keys("coordinator").task("a"));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await raw.zcard(queue.keys("coordinator").leases)).toBe(1); // b's lease only
  });

  it("acknowledges several tasks in one call, reports the lost ones and refills the slots", async () => {
    let now = 2_000_000;
    const queue = newQueue({ now: () => now });
    for (let i = 0; i < 6; i++) await queue.enqueue({ id: `m${i}`, type: "planning", input: {} });
    const first = await queue.claim("coordinator", { count: 3, leaseMs: 1_000, workerId: "w" });
    now += 2_000;
    await queue.reap("coordinator"); // all three leases expired and went back to ready
    const again = await queue.claim("coordinator", { count: 3, ...W }); // m0..m2 again, new tokens
    const reply = await queue.ackMany(
      "coordinator",
      [
        { lease: again[0]!, result: "a" },
        { lease: first[1]!, result: "stale" }, // the old token of m1
        { lease: again[2]!, result: "c" },
      ],
      { count: 2, ...W },
    );
    expect(reply.lost).toEqual(["m1"]);
    expect(reply.next.map((t) => t.id)).toEqual(["m3", "m4"]);
    expect((await queue.getTask("m0"))?.result).toBe("a");
    expect((await queue.getTask("m1"))?.status).toBe("running");
    expect((await queue.getTask("m2"))?.status).toBe("succeeded");
  });

  it("an ack with a stale token is refused and writes nothing", async () => {
    const queue = newQueue();
    await queue.enqueue({ id: "a", type: "planning", input: {} });
    const [a] = await queue.claim("coordinator", { count: 1, ...W });
    const { acked } = await queue.ack({ ...a!, token: "not-mine" }, "x");
    expect(acked).toBe(false);
    expect((await queue.getTask("a"))?.status).toBe("running");
  });

  it("renews all leases in one call and reports the lost ones", async () => {
    let now = 1_000_000;
    const queue = newQueue({ now: () => now });
    for (const id of ["a", "b", "c"]) await queue.enqueue({ id, type: "deployment", input: {} });
    const tasks = await queue.claim("devops", { count: 3, leaseMs: 1_000, workerId: "w" });
    now += 900;
    expect(await queue.renew("devops", tasks, 1_000)).toEqual([]);
    now += 900; // 1,800 ms after the claim: past the first deadline, within the renewed one
    expect((await queue.reap("devops")).reclaimed).toBe(0);
    now += 2_000;
    expect((await queue.reap("devops")).reclaimed).toBe(3);
    expect(await queue.renew("devops", tasks, 1_000)).toEqual(["a", "b", "c"]);
  });

  it("an expired lease is reclaimed at its place in line and redelivered with deliveries + 1", async () => {
    let now = 1_000_000;
    const queue = newQueue({ now: () => now });
    await queue.enqueue({ id: "first", type: "test-run", input: {} });
    await queue.enqueue({ id: "second", type: "test-run", input: {} });
    const [first] = await queue.claim("tester", { count: 1, leaseMs: 500, workerId: "w" });
    now += 501;
    expect(await queue.reap("tester")).toMatchObject({ reclaimed: 1, deadLettered: 0 });
    expect((await queue.getTask("first"))?.status).toBe("retrying");
    const again = await queue.claim("tester", { count: 2, ...W });
    expect(again.map((t) => [t.id, t.deliveries])).toEqual([
      ["first", 2],
      ["second", 1],
    ]);
    expect((await queue.ack(first!, "late")).acked).toBe(false); // the old holder lost it
  });

  it("reap says when the next lease or retry comes due, and runs 2 commands when nothing is", async () => {
    let now = 2_000_000;
    const queue = newQueue({ now: () => now });
    expect(await queue.reap("data")).toEqual({
      reclaimed: 0,
      deadLettered: 0,
      promoted: 0,
      more: false,
      nextDueAt: undefined,
    });
    for (const id of ["a", "b"]) await queue.enqueue({ id, type: "sql-query", input: {} });
    const [a] = await queue.claim("data", { count: 1, leaseMs: 1_000, workerId: "w" });
    now += 100;
    await queue.claim("data", { count: 1, leaseMs: 1_000, workerId: "w" });
    expect((await queue.reap("data")).nextDueAt).toBe(2_001_000); // a's lease
    await queue.fail(a!, { error: "503", retryable: true, delayMs: 500 });
    expect((await queue.reap("data")).nextDueAt).toBe(2_000_600); // a's retry, before b's lease
    now += 500;
    expect(await queue.reap("data")).toMatchObject({ promoted: 1, nextDueAt: 2_001_100 });

    await raw.config("RESETSTAT");
    now = 2_000_000; // nothing due
    await queue.reap("data");
    const info = await raw.info("commandstats");
    const calls = [...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)]
      .filter(([, name]) => name !== "info" && name !== "config")
      .map(([, name, n]) => [name, Number(n)]);
    expect(Object.fromEntries(calls)).toEqual({ evalsha: 1, zrange: 2 });
  });

  it("release hands a task back at the head without counting the delivery", async () => {
    const queue = newQueue();
    await queue.enqueue({ id: "a", type: "ui-component", input: {} });
    await queue.enqueue({ id: "b", type: "ui-component", input: {} });
    const [a] = await queue.claim("frontend", { count: 1, ...W });
    expect(await queue.release("frontend", [a!])).toBe(1);
    expect(await queue.release("frontend", [a!])).toBe(0);
    const record = await queue.getTask("a");
    expect(record).toMatchObject({ status: "queued", deliveries: 0 });
    const [again] = await queue.claim("frontend", { count: 1, ...W });
    expect(again).toMatchObject({ id: "a", deliveries: 1 });
    expect(await raw.zcard(queue.keys("frontend").leases)).toBe(1);
  });
});

describe("retries and dead letters", () => {
  it("retry delays follow capped exponential backoff with jitter", () => {
    const options = { baseMs: 1_000, maxMs: 30_000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((d) => retryDelayBounds(d, options))).toEqual([
      [500, 1_000],
      [1_000, 2_000],
      [2_000, 4_000],
      [4_000, 8_000],
      [8_000, 16_000],
      [15_000, 30_000],
      [15_000, 30_000],
    ]);
    for (let deliveries = 1; deliveries < 40; deliveries++) {
      const [low, high] = retryDelayBounds(deliveries, options);
      for (const r of [0, 0.25, 0.999]) {
        const delay = retryDelayMs(deliveries, options, () => r);
        expect(delay).toBeGreaterThanOrEqual(low);
        expect(delay).toBeLessThanOrEqual(high);
      }
    }
    expect(retryDelayMs(3, options, () => 0)).toBe(2_000);
    expect(retryDelayMs(3, options, () => 1)).toBe(4_000);
  });

  it("a failed delivery waits in the delayed set until due, then returns to ready", async () => {
    let now = 5_000_000;
    const queue = newQueue({ now: () => now });
    await queue.enqueue({ id: "r", type: "api-design", input: {} });
    const [task] = await queue.claim("backend", { count: 1, ...W });
    const { outcome } = await queue.fail(task!, { error: "backend 503", retryable: true, delayMs: 2_000 });
    expect(outcome).toBe("retrying");
    expect(await queue.getTask("r")).toMatchObject({
      status: "retrying",
      error: "backend 503",
      dueAt: now + 2_000,
    });
    expect((await queue.stats("backend")).delayed).toBe(1);
    now += 1_999;
    expect((await queue.reap("backend")).promoted).toBe(0);
    expect(await queue.claim("backend", { count: 1, ...W })).toEqual([]);
    now += 1;
    expect((await queue.reap("backend")).promoted).toBe(1);
    const [again] = await queue.claim("backend", { count: 1, ...W });
    expect(again).toMatchObject({ id: "r", deliveries: 2 });
  });

  it("dead-letters after exactly maxDeliveries, keeping the last error; DLQ retry and purge", async () => {
    const queue = newQueue({ defaultMaxDeliveries: 3 });
    await queue.enqueue({ id: "p", type: "security-audit", input: {} });
    await queue.enqueue({ id: "q", type: "security-audit", input: {}, maxDeliveries: 1 });
    const outcomes: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [task] = await queue.claim("security", { count: 1, ...W });
      expect(task).toMatchObject({ id: "p", deliveries: attempt });
      const { outcome } = await queue.fail(task!, { error: `boom ${attempt}`, retryable: true, delayMs: 0 });
      outcomes.push(outcome);
    }
    expect(outcomes).toEqual(["retrying", "retrying", "dead"]);
    const [q] = await queue.claim("security", { count: 1, ...W });
    expect((await queue.fail(q!, { error: "once", retryable: true, delayMs: 0 })).outcome).toBe("dead");

    const dead = await queue.listDead("security");
    expect(dead.map((t) => [t.id, t.status, t.deliveries, t.error])).toEqual([
      ["p", "dead", 3, "boom 3"],
      ["q", "dead", 1, "once"],
    ]);
    expect((await queue.stats("security")).dead).toBe(2);
    expect(await queue.retryDead("security", { ids: ["p", "nope"] })).toBe(1);
    const [retried] = await queue.claim("security", { count: 1, ...W });
    expect(retried).toMatchObject({ id: "p", deliveries: 1 });
    expect(await queue.purgeDead("security")).toBe(1);
    expect(await queue.getTask("q")).toBeUndefined();
    expect(await queue.listDead("security")).toEqual([]);
  });

  it("a permanent failure ends as failed, not dead, and expires like a result", async () => {
    const queue = newQueue({ resultTtlMs: 10_000 });
    await queue.enqueue({ id: "f", type: "ml-inference", input: {} });
    const [task] = await queue.claim("ml", { count: 1, ...W });
    expect(
      (await queue.fail(task!, { error: "400 bad request", retryable: false, delayMs: 0 })).outcome,
    ).toBe("failed");
    expect(await queue.getTask("f")).toMatchObject({ status: "failed", error: "400 bad request" });
    expect(await raw.pttl(queue.keys("ml").task("f"))).toBeGreaterThan(0);
    expect((await queue.stats("ml")).dead).toBe(0);
  });

  it("a lease that keeps expiring dead-letters the task with a message saying why", async () => {
    let now = 1_000;
    const queue = newQueue({ now: () => now, defaultMaxDeliveries: 2 });
    await queue.enqueue({ id: "k", type: "model-training", input: {} });
    for (let i = 0; i < 2; i++) {
      await queue.claim("ml", { count: 1, leaseMs: 100, workerId: "w" });
      now += 200;
      await queue.reap("ml");
    }
    const record = await queue.getTask("k");
    expect(record?.status).toBe("dead");
    expect(record?.error).toMatch(/^lease expired on delivery 2 of 2: the worker stopped/);
  });
});

describe("statistics and keys", () => {
  it("reports ready per priority, in-flight, delayed, dead and the oldest ready age", async () => {
    let now = 10_000_000;
    const queue = newQueue({ now: () => now });
    const counts = [2, 0, 3, 1];
    let n = 0;
    for (const [priority, count] of counts.entries()) {
      for (let i = 0; i < count; i++)
        await queue.enqueue({ id: `s${n++}`, type: "research", priority, input: {} });
      now += 1_000;
    }
    expect(await queue.stats("researcher")).toEqual({
      agent: "researcher",
      ready: { P0: 2, P1: 0, P2: 3, P3: 1 },
      inFlight: 0,
      delayed: 0,
      dead: 0,
      oldestReadyAgeSeconds: 4,
      // Each band's head: P0 enqueued at the start, P2 two seconds later, P3 three.
      oldestReadyAgeByPriority: { P0: 4, P1: null, P2: 2, P3: 1 },
    });
    await queue.claim("researcher", { count: 2, ...W });
    const stats = await queue.stats("researcher");
    expect(stats.ready).toEqual({ P0: 0, P1: 0, P2: 3, P3: 1 });
    expect(stats.inFlight).toBe(2);
    expect(stats.oldestReadyAgeSeconds).toBe(2);
    expect(stats.oldestReadyAgeByPriority).toEqual({ P0: null, P1: null, P2: 2, P3: 1 });
    const empty = await queue.stats("ml");
    expect(empty.oldestReadyAgeSeconds).toBeNull();
    expect(empty.oldestReadyAgeByPriority).toEqual({ P0: null, P1: null, P2: null, P3: null });
    expect(await queue.statsAll()).toHaveLength(12);
  });

  it("every key of an agent carries the {agent} hash tag", async () => {
    const queue = newQueue();
    await queue.enqueue({ id: "h1", type: "code-generation", input: {} });
    const [task] = await queue.claim("python", { count: 1, ...W });
    await queue.fail(task!, { error: "e", retryable: true, delayMs: 60_000 });
    const keys = await keysUnder(raw, queue.prefix);
    expect(keys.length).toBeGreaterThanOrEqual(4);
    for (const key of keys) expect(key.startsWith(`${queue.prefix}:{python}:`)).toBe(true);
  });

  it("keeps working after SCRIPT FLUSH (EVALSHA falls back to EVAL)", async () => {
    const queue = newQueue();
    await raw.script("FLUSH");
    expect((await queue.enqueue({ type: "research", input: {} })).created).toBe(true);
    expect(await queue.claim("researcher", { count: 1, ...W })).toHaveLength(1);
  });

  it("getTask finds a task without knowing its agent, and says undefined for unknown ids", async () => {
    const queue = newQueue();
    await queue.enqueue({ id: "where", type: "vulnerability-scan", input: { a: 1 } });
    expect(await queue.getTask("where")).toMatchObject({
      agent: "security",
      status: "queued",
      input: { a: 1 },
    });
    expect(await queue.getTask("nowhere")).toBeUndefined();
  });
});

describe("claim batching", () => {
  it("claims at most `count`, skipping nothing", async () => {
    const queue = newQueue();
    for (let i = 0; i < 25; i++) await queue.enqueue({ id: `b${i}`, type: "integration", input: {} });
    const seen: ClaimedTask[] = [];
    for (;;) {
      const batch = await queue.claim("integration", { count: 10, ...W });
      expect(batch.length).toBeLessThanOrEqual(10);
      if (batch.length === 0) break;
      seen.push(...batch);
    }
    expect(seen.map((t) => t.id)).toEqual(Array.from({ length: 25 }, (_, i) => `b${i}`));
    expect(new Set(seen.map((t) => t.token)).size).toBe(25);
    await sleep(1);
  });
});

describe("authentication", () => {
  it("connects with REDIS_PASSWORD when the URL carries none", async () => {
    const secured = await startRedis({ appendonly: false, password: "s3cret" });
    try {
      const url = `redis://127.0.0.1:${secured.port}/0`;
      const queue = new TaskQueue({ redis: url, password: "s3cret" });
      expect((await queue.enqueue({ type: "research", input: {} })).created).toBe(true);
      await queue.close();
      const wrong = new TaskQueue({
        redis: url,
        password: "nope",
        redisOptions: { maxRetriesPerRequest: 0 },
      });
      await expect(wrong.ping()).rejects.toThrow();
      await wrong.close();
    } finally {
      await secured.destroy();
    }
  });
});
