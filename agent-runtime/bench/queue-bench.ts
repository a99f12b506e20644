/**
 * `npm run bench:queue` — the fleet queue against BullMQ, side by side, on one local redis-server
 * (no persistence) that this script starts. Both run the same no-op tasks; the workers run in this
 * process, the producer of the end-to-end and latency runs in a child process (as a router would):
 *
 *   throughput   tasks/s for one worker at concurrency 1, 10, 50, and 12 queues (one worker each,
 *                concurrency 10) together — a pre-filled backlog, timed from the first start to
 *                the last completion
 *   end to end   tasks/s with a producer process enqueuing as fast as it can beside one worker
 *   latency      p50/p99 enqueue→start at 50% of that (the producer paced), and both systems at
 *                50% of the slower one's end-to-end rate
 *   commands     Redis commands per task from INFO commandstats (script-internal calls included),
 *                with a backlog and at 50% load
 *   idle CPU     this process and redis-server over 20 s with idle workers on 12 queues
 *   round trip   one PING at a time from this process: at concurrency 1 a worker needs one round
 *                trip per task (ack + next claim) unless it prefetches, so 1 / round trip is the
 *                ceiling of any such queue at concurrency 1
 *
 * BullMQ is a benchmark-only dependency kept out of the lockfile: on first run it is installed
 * into ~/.cache/agent-fleet/bench-bullmq (BENCH_BULLMQ_DIR). BENCH_SCALE=0.2 runs a quick pass;
 * BENCH_JSON=<file> also writes the figures as JSON. Each scenario runs BENCH_REPEATS (3) times,
 * alternating the two systems; the best throughput and the median latency run are kept. Each
 * system first gets one untimed pass, and each latency producer 1 s of unmeasured warm-up.
 *
 * BENCH_TRACING=1 runs the tracing comparison instead (tracing off and on, side by side): see
 * ./tracing-bench.ts.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { AGENT_TYPES } from "../src/catalog";
import { startLocalRedis } from "../src/cli/local-redis";
import { bullSubject, fleetSubject, loadBullmq, type Subject } from "./subjects";
import { tracingBench } from "./tracing-bench";

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const n = (count: number) => Math.max(100, Math.round(count * SCALE));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ measurements

async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const calls = new Map<string, number>();
  for (const [, name, count] of info.matchAll(/cmdstat_([\w|-]+):calls=(\d+)/g)) {
    if (name && !/^(info|config)/.test(name)) calls.set(name, Number(count));
  }
  return calls;
}

const total = (stats: Map<string, number>) => [...stats.values()].reduce((a, b) => a + b, 0);
const scripts = (stats: Map<string, number>) => (stats.get("evalsha") ?? 0) + (stats.get("eval") ?? 0);

async function prefill(subject: Subject, queues: number[], perQueue: number): Promise<void> {
  const jobs: (() => Promise<void>)[] = [];
  for (const q of queues)
    for (let i = 0; i < perQueue; i++) jobs.push(() => subject.enqueue(q, { t: now() }));
  for (let i = 0; i < jobs.length; i += 500) await Promise.all(jobs.slice(i, i + 500).map((job) => job()));
}

interface Throughput {
  tasksPerSecond: number;
  /** Commands of the enqueues (the pre-fill). */
  enqueueCommandsPerTask: number;
  /** Commands of claiming, running and acknowledging. */
  commandsPerTask: number;
  scriptCallsPerTask: number;
  breakdown: [string, number][];
}

async function throughput(
  subject: Subject,
  redis: Redis,
  queues: number[],
  concurrency: number,
  perQueue: number,
) {
  await redis.flushall();
  await redis.config("RESETSTAT");
  await prefill(subject, queues, perQueue);
  const expected = queues.length * perQueue;
  const enqueueStats = await commandStats(redis);
  await redis.config("RESETSTAT");
  let started = 0;
  let done = 0;
  let first = 0;
  let last = 0;
  const finished = new Promise<void>((resolve) => {
    void subject.startWorkers(
      queues,
      concurrency,
      () => {
        if (started++ === 0) first = now();
      },
      () => {
        if (++done === expected) {
          last = now();
          resolve();
        }
      },
    );
  });
  await finished;
  const stats = await commandStats(redis);
  await subject.stopWorkers();
  return {
    tasksPerSecond: expected / ((last - first) / 1000),
    enqueueCommandsPerTask: total(enqueueStats) / expected,
    commandsPerTask: total(stats) / expected,
    scriptCallsPerTask: scripts(stats) / expected,
    breakdown: [...stats.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, v / expected] as [string, number]),
  } satisfies Throughput;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** A fresh producer process runs this long at the target rate before its tasks are measured. */
const WARMUP_SECONDS = 1;

/**
 * Enqueues at `rate` per second for WARMUP_SECONDS + `seconds`; returns how many were sent. The
 * warm-up tasks (marked `warmup`) run like the others but are left out of the latency figures:
 * a new process is slow until its code is compiled, for both systems alike.
 */
async function produce(subject: Subject, rate: number, seconds: number): Promise<number> {
  const start = now();
  let sent = 0;
  const pending: Promise<void>[] = [];
  while (now() - start < (WARMUP_SECONDS + seconds) * 1000) {
    const elapsed = now() - start;
    const due = Math.floor((elapsed / 1000) * rate);
    const warmup = elapsed < WARMUP_SECONDS * 1000;
    for (; sent < due; sent++) pending.push(subject.enqueue(0, { t: now(), warmup }));
    await sleep(1);
  }
  await Promise.all(pending);
  return sent;
}

/** Enqueues `count` tasks as fast as 50 concurrent calls allow. */
async function flood(subject: Subject, count: number): Promise<number> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (sent < count) {
        sent++;
        await subject.enqueue(0, { t: now() });
      }
    }),
  );
  return sent;
}

/** Runs this file as a producer process: `produce <system> <url> <rate> <seconds>` or `flood <system> <url> <count>`. */
async function runProducer(
  mode: "produce" | "flood",
  subject: Subject,
  url: string,
  args: string[],
): Promise<{ sent: number; cpuMicros: number }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", __filename, mode, subject.name, url, ...args],
    { cwd: path.resolve(__dirname, "..", ".."), maxBuffer: 1 << 20 },
  );
  const [, sent, cpu] = /sent (\d+) cpu (\d+)/.exec(stdout) ?? [];
  return { sent: Number(sent ?? NaN), cpuMicros: Number(cpu ?? NaN) };
}

/** CPU per task (µs) of the three processes of an end-to-end run. */
interface CpuPerTask {
  producer: number;
  worker: number;
  redis: number;
}

/**
 * End-to-end capacity: a producer process enqueues `count` tasks as fast as it can while one
 * worker (concurrency 10) runs them, both on the same Redis; tasks/s from the first start to the
 * last completion. "50% load" for the latency runs is half of this. Also the CPU each process
 * spent per task (the producer's from its first enqueue, without its start-up).
 */
async function endToEnd(
  subject: Subject,
  redis: Redis,
  url: string,
  redisPid: number,
  count: number,
): Promise<{ rate: number; cpu: CpuPerTask }> {
  await redis.flushall();
  let done = 0;
  let first = 0;
  let last = 0;
  await subject.startWorkers(
    [0],
    10,
    () => {
      if (first === 0) first = now();
    },
    () => {
      done++;
      last = now();
    },
  );
  const cpu0 = process.cpuUsage();
  const redis0 = cpuTicks(redisPid);
  const { sent, cpuMicros } = await runProducer("flood", subject, url, [String(count)]);
  const deadline = Date.now() + 60_000;
  while (done < sent && Date.now() < deadline) await sleep(5);
  const cpu = process.cpuUsage(cpu0);
  const redisTicks = cpuTicks(redisPid) - redis0;
  await subject.stopWorkers();
  return {
    rate: done / ((last - first) / 1000),
    cpu: {
      producer: cpuMicros / sent,
      worker: (cpu.user + cpu.system) / sent,
      redis: (redisTicks * 10_000) / sent,
    },
  };
}

/**
 * p50/p99 from enqueue to start, with the producer in its own process (as the router is), paced
 * at `rate`. Payloads carry the wall-clock enqueue time in ms (performance.timeOrigin + now()).
 */
async function latency(subject: Subject, redis: Redis, url: string, rate: number, seconds: number) {
  await redis.flushall();
  const latencies: number[] = [];
  let done = 0;
  await subject.startWorkers(
    [0],
    10,
    (p) => {
      if (!p.warmup) latencies.push(now() - p.t);
    },
    () => done++,
  );
  await sleep(300);
  await redis.config("RESETSTAT");
  const { sent } = await runProducer("produce", subject, url, [String(rate), String(seconds)]);
  const deadline = Date.now() + 60_000;
  while (done < sent && Date.now() < deadline) await sleep(5);
  const stats = await commandStats(redis);
  await subject.stopWorkers();
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    rate,
    tasks: sent,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    commandsPerTask: total(stats) / sent,
  };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
}

async function idleCpu(subject: Subject, redis: Redis, redisPid: number, seconds: number) {
  await redis.flushall();
  const queues = AGENT_TYPES.map((_, i) => i);
  await subject.startWorkers(
    queues,
    10,
    () => undefined,
    () => undefined,
  );
  await sleep(1_500);
  await redis.config("RESETSTAT");
  const cpu0 = process.cpuUsage();
  const redis0 = cpuTicks(redisPid);
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const redisTicks = cpuTicks(redisPid) - redis0;
  const stats = await commandStats(redis);
  await subject.stopWorkers();
  return {
    workerCpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    redisCpuPercent: (redisTicks / 100 / seconds) * 100,
    redisCommandsPerSecond: total(stats) / seconds,
  };
}

/** Mean time of one PING round trip, one at a time (µs), over a fresh connection. */
async function pingRoundTrip(url: string, count: number): Promise<number> {
  const client = new Redis(url);
  try {
    for (let i = 0; i < 1_000; i++) await client.ping(); // warm up
    const start = now();
    for (let i = 0; i < count; i++) await client.ping();
    return ((now() - start) * 1000) / count;
  } finally {
    client.disconnect();
  }
}

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

interface Result {
  c1: Throughput;
  c10: Throughput;
  c50: Throughput;
  all12: Throughput;
  /** End-to-end tasks/s: a producer process flooding, one worker at concurrency 10. */
  capacity: number;
  /** CPU per task of that run's producer, worker and redis-server. */
  capacityCpu: CpuPerTask;
  latency: Awaited<ReturnType<typeof latency>>;
  /** At 50% of the slowest system's capacity. */
  latencyAtCommonRate: Awaited<ReturnType<typeof latency>>;
  idle: Awaited<ReturnType<typeof idleCpu>>;
  /** PING round trip (µs), one at a time, the best of the repeats (the same for both systems). */
  pingMicros: number;
}

/**
 * Every scenario runs REPEATS times, alternating the systems, and keeps each system's best
 * throughput and its median latency run: the machine's background load then hits both alike.
 */
async function measureAll(
  subjects: Subject[],
  redis: Redis,
  url: string,
  redisPid: number,
): Promise<Result[]> {
  const scenarios: [keyof Pick<Result, "c1" | "c10" | "c50" | "all12">, number[], number, number][] = [
    ["c1", [0], 1, n(3_000)],
    ["c10", [0], 10, n(20_000)],
    ["c50", [0], 50, n(20_000)],
    ["all12", AGENT_TYPES.map((_, i) => i), 10, n(2_000)],
  ];
  // One untimed pass per system first, so that no scenario measures the JIT compiling the code.
  for (const subject of subjects) await throughput(subject, redis, [0], 10, n(5_000));
  const best = subjects.map(() => new Map<string, Throughput>());
  let ping = Infinity;
  for (const [name, queues, concurrency, perQueue] of scenarios) {
    for (let rep = 0; rep < REPEATS; rep++) {
      if (name === "c1") ping = Math.min(ping, await pingRoundTrip(url, n(20_000)));
      for (const [i, subject] of subjects.entries()) {
        const result = await throughput(subject, redis, queues, concurrency, perQueue);
        console.log(
          `[bench] ${subject.name.padEnd(6)} ${name.padEnd(5)} run ${rep + 1}: ${Math.round(result.tasksPerSecond)} tasks/s`,
        );
        const kept = best[i]!.get(name);
        if (!kept || result.tasksPerSecond > kept.tasksPerSecond) best[i]!.set(name, result);
      }
    }
  }
  // Each system at 50% of its own capacity, and every system at 50% of the slowest one's capacity
  // (the same absolute load, so the figures compare like for like).
  const capacity = subjects.map(() => 0);
  const capacityCpu = subjects.map((): CpuPerTask => ({ producer: NaN, worker: NaN, redis: NaN }));
  for (let rep = 0; rep < REPEATS; rep++) {
    for (const [i, subject] of subjects.entries()) {
      const { rate, cpu } = await endToEnd(subject, redis, url, redisPid, n(20_000));
      console.log(`[bench] ${subject.name.padEnd(6)} end-to-end run ${rep + 1}: ${Math.round(rate)} tasks/s`);
      if (rate > capacity[i]!) {
        capacity[i] = rate;
        capacityCpu[i] = cpu;
      }
    }
  }
  const rates = capacity.map((c) => c / 2);
  const common = Math.min(...rates);
  const latencies = subjects.map(() => [] as Result["latency"][]);
  const latenciesCommon = subjects.map(() => [] as Result["latency"][]);
  for (let rep = 0; rep < REPEATS; rep++) {
    for (const [i, subject] of subjects.entries()) {
      for (const [rate, into] of [
        [rates[i]!, latencies],
        [common, latenciesCommon],
      ] as const) {
        if (into === latenciesCommon && rate === rates[i]) {
          continue; // the slowest system: its own run is the common-rate run
        }
        const result = await latency(subject, redis, url, rate, 5 * Math.min(1, SCALE * 2));
        console.log(
          `[bench] ${subject.name.padEnd(6)} latency run ${rep + 1} at ${Math.round(rate)}/s: p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms`,
        );
        into[i]!.push(result);
      }
    }
  }
  const median = (runs: Result["latency"][]) =>
    runs.sort((a, b) => a.p99 - b.p99)[Math.floor(runs.length / 2)];
  const results: Result[] = [];
  for (const [i, subject] of subjects.entries()) {
    console.log(`[bench] ${subject.name}: idle CPU ...`);
    const idle = await idleCpu(subject, redis, redisPid, SCALE < 1 ? 10 : 20);
    const get = (name: string) => best[i]!.get(name)!;
    results.push({
      c1: get("c1"),
      c10: get("c10"),
      c50: get("c50"),
      all12: get("all12"),
      capacity: capacity[i]!,
      capacityCpu: capacityCpu[i]!,
      latency: median(latencies[i]!)!,
      latencyAtCommonRate: median(latenciesCommon[i]!) ?? median(latencies[i]!)!,
      idle,
      pingMicros: ping,
    });
  }
  for (const subject of subjects) await subject.close();
  return results;
}

function report(fleet: Result, bull: Result | undefined): string {
  const rows: [string, (r: Result) => number, number, "higher" | "lower"][] = [
    ["no-op tasks/s, 1 worker, concurrency 1", (r) => r.c1.tasksPerSecond, 0, "higher"],
    ["no-op tasks/s, 1 worker, concurrency 10", (r) => r.c10.tasksPerSecond, 0, "higher"],
    ["no-op tasks/s, 1 worker, concurrency 50", (r) => r.c50.tasksPerSecond, 0, "higher"],
    ["no-op tasks/s, 12 queues together (c=10 each)", (r) => r.all12.tasksPerSecond, 0, "higher"],
    ["end-to-end tasks/s, producer process + worker (c=10)", (r) => r.capacity, 0, "higher"],
    ["  CPU per task: producer process (µs)", (r) => r.capacityCpu.producer, 1, "lower"],
    ["  CPU per task: worker process (µs)", (r) => r.capacityCpu.worker, 1, "lower"],
    ["  CPU per task: redis-server (µs)", (r) => r.capacityCpu.redis, 1, "lower"],
    [
      "  CPU per task: all three (µs)",
      (r) => r.capacityCpu.producer + r.capacityCpu.worker + r.capacityCpu.redis,
      1,
      "lower",
    ],
    ["load for the latency runs (50% of end-to-end)", (r) => r.latency.rate, 0, "higher"],
    ["enqueue→start p50 at 50% load (ms)", (r) => r.latency.p50, 2, "lower"],
    ["enqueue→start p99 at 50% load (ms)", (r) => r.latency.p99, 2, "lower"],
    [
      "Redis commands/task, enqueue + run (backlog, c=10)",
      (r) => r.c10.enqueueCommandsPerTask + r.c10.commandsPerTask,
      1,
      "lower",
    ],
    ["  enqueue", (r) => r.c10.enqueueCommandsPerTask, 1, "lower"],
    ["  claim + run + ack", (r) => r.c10.commandsPerTask, 1, "lower"],
    ["  EVALSHA calls of claim + run + ack", (r) => r.c10.scriptCallsPerTask, 2, "lower"],
    ["common load for both (50% of the slower's end-to-end)", (r) => r.latencyAtCommonRate.rate, 0, "higher"],
    ["enqueue→start p50 at the common load (ms)", (r) => r.latencyAtCommonRate.p50, 2, "lower"],
    ["enqueue→start p99 at the common load (ms)", (r) => r.latencyAtCommonRate.p99, 2, "lower"],
    ["Redis commands/task at 50% load", (r) => r.latency.commandsPerTask, 1, "lower"],
    ["idle: worker process CPU (% of a core)", (r) => r.idle.workerCpuPercent, 2, "lower"],
    ["idle: redis-server CPU (% of a core)", (r) => r.idle.redisCpuPercent, 2, "lower"],
    ["idle: Redis commands/s (12 idle workers)", (r) => r.idle.redisCommandsPerSecond, 1, "lower"],
  ];
  const lines = [
    `PING round trip, one at a time: ${fleet.pingMicros.toFixed(1)} µs, so at most ${Math.round(1e6 / fleet.pingMicros)} tasks/s at concurrency 1 for a queue that makes one round trip per task`,
    "",
    `${"metric".padEnd(48)}${"fleet".padStart(12)}${"BullMQ".padStart(12)}${"fleet/BullMQ".padStart(14)}`,
  ];
  for (const [label, pick, digits, _better] of rows) {
    const a = pick(fleet);
    const b = bull ? pick(bull) : NaN;
    const ratio = bull && b !== 0 ? `${(a / b).toFixed(2)}x` : "-";
    lines.push(
      `${label.padEnd(48)}${a.toFixed(digits).padStart(12)}${(bull ? b.toFixed(digits) : "-").padStart(12)}${ratio.padStart(14)}`,
    );
  }
  const twice = (pick: (r: Result) => number) => (bull ? pick(fleet) >= 2 * pick(bull) : undefined);
  const targets = [
    ["throughput >= 2x BullMQ, concurrency 1", twice((r) => r.c1.tasksPerSecond)],
    ["throughput >= 2x BullMQ, concurrency 10", twice((r) => r.c10.tasksPerSecond)],
    ["throughput >= 2x BullMQ, concurrency 50", twice((r) => r.c50.tasksPerSecond)],
    ["throughput >= 2x BullMQ, 12 queues", twice((r) => r.all12.tasksPerSecond)],
    ["throughput >= 2x BullMQ, end to end with a producer", twice((r) => r.capacity)],
    ["p99 enqueue→start <= 10 ms at 50% load", fleet.latency.p99 <= 10],
    [
      "<= 12 Redis commands per task (enqueue + run, backlog, incl. script-internal)",
      fleet.c10.enqueueCommandsPerTask + fleet.c10.commandsPerTask <= 12,
    ],
    ["idle worker CPU ~0% (< 1% of a core)", fleet.idle.workerCpuPercent < 1],
  ] as const;
  lines.push("", "targets:");
  for (const [label, met] of targets)
    lines.push(`  ${met === undefined ? "n/a " : met ? "MET " : "NOT MET"}  ${label}`);
  if (bull) {
    // Per task at concurrency 1: one round trip plus the work on both ends. Subtracting the bare
    // round trip leaves each system's own cost, which is what a faster queue can cut.
    const cycle = (r: Result) => 1e6 / r.c1.tasksPerSecond;
    const own = (r: Result) => cycle(r) - r.pingMicros;
    lines.push(
      "",
      `concurrency 1, per task: fleet ${cycle(fleet).toFixed(1)} µs, BullMQ ${cycle(bull).toFixed(1)} µs, of which ` +
        `${fleet.pingMicros.toFixed(1)} µs is the bare round trip; beyond it the fleet spends ${own(fleet).toFixed(1)} µs, ` +
        `BullMQ ${own(bull).toFixed(1)} µs. Even at 0 µs of its own the fleet would reach ` +
        `${(cycle(bull) / fleet.pingMicros).toFixed(2)}x BullMQ.`,
    );
  }
  lines.push("", "fleet commands per task (backlog, c=10):");
  lines.push("  " + fleet.c10.breakdown.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", "));
  if (bull) {
    lines.push("BullMQ commands per task (backlog, c=10):");
    lines.push(
      "  " +
        bull.c10.breakdown
          .slice(0, 14)
          .map(([k, v]) => `${k} ${v.toFixed(2)}`)
          .join(", "),
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const server = await startLocalRedis();
  const redis = new Redis(server.url);
  try {
    const version = (await redis.info("server")).match(/redis_version:(\S+)/)?.[1];
    console.log(
      `[bench] redis-server ${version} on port ${server.port} (no persistence); node ${process.version}; scale ${SCALE}`,
    );
    if (process.env.BENCH_TRACING === "1") {
      console.log("\n" + (await tracingBench(server.url, redis, n(20_000), REPEATS)));
      const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
      console.log(`\nload average at the end: ${load} (other processes on this machine skew every figure)`);
      return;
    }
    const subjects = [fleetSubject(server.url)];
    if (process.env.BENCH_SKIP_BULLMQ !== "1") subjects.push(bullSubject(server.url, loadBullmq()));
    const [fleet, bull] = await measureAll(subjects, redis, server.url, server.pid);
    if (!fleet) throw new Error("no result for the fleet queue");
    console.log("\n" + report(fleet, bull));
    const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    console.log(`\nload average at the end: ${load} (other processes on this machine skew every figure)`);
    if (process.env.BENCH_JSON)
      writeFileSync(process.env.BENCH_JSON, JSON.stringify({ fleet, bull, load }, null, 2));
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/** The producer process of the latency and end-to-end runs (see runProducer). */
async function producerMain(mode: string, args: string[]): Promise<void> {
  const [system, url, ...rest] = args;
  if (!url) throw new Error("usage: queue-bench.ts produce|flood <fleet|BullMQ> <url> ...");
  const subject = system === "BullMQ" ? bullSubject(url, loadBullmq()) : fleetSubject(url);
  const cpu0 = process.cpuUsage();
  const sent =
    mode === "flood"
      ? await flood(subject, Number(rest[0]))
      : await produce(subject, Number(rest[0]), Number(rest[1]));
  const cpu = process.cpuUsage(cpu0);
  await subject.close();
  console.log(`sent ${sent} cpu ${cpu.user + cpu.system}`);
}

const mode = process.argv[2];
(mode === "produce" || mode === "flood" ? producerMain(mode, process.argv.slice(3)) : main()).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
