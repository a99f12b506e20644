/**
 * The two systems the queue benchmark compares, behind one small interface: the fleet queue
 * (TaskQueue + Worker) and BullMQ (Queue + Worker), both running no-op tasks.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import path from "node:path";
import { AGENT_TYPES, taskTypesOf } from "../src/catalog";
import { createLogger } from "../src/lib/log";
import { createMetrics } from "../src/lib/metrics";
import { TaskQueue } from "../src/queue";
import { Worker } from "../src/worker";

export interface Payload {
  /** Wall-clock enqueue time, ms. */
  t: number;
  /** Sent while the producer process warms up: not counted in latency figures. */
  warmup?: boolean;
}

/** What the benchmark needs from a queue system. */
export interface Subject {
  name: string;
  enqueue(queue: number, payload: Payload): Promise<void>;
  startWorkers(
    queues: number[],
    concurrency: number,
    onStart: (p: Payload) => void,
    onDone: () => void,
  ): Promise<void>;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------ the fleet queue

export function fleetSubject(url: string): Subject {
  const producer = new TaskQueue({ redis: url, prefix: "bench" });
  let consumer: TaskQueue | undefined;
  let workers: Worker[] = [];
  const silent = createLogger({}, "silent");
  const metrics = createMetrics(undefined, { processMetrics: false });
  return {
    name: "fleet",
    async enqueue(queue, payload) {
      const agent = AGENT_TYPES[queue]!;
      await producer.enqueue({ type: taskTypesOf(agent)[0], input: { ...payload } });
    },
    async startWorkers(queues, concurrency, onStart, onDone) {
      consumer = new TaskQueue({ redis: url, prefix: "bench" });
      workers = queues.map(
        (q) =>
          new Worker({
            queue: consumer!,
            agent: AGENT_TYPES[q]!,
            concurrency,
            logger: silent,
            metrics,
            execute: async (task) => {
              onStart(task.input as unknown as Payload);
              return null;
            },
            hooks: { onFinish: () => onDone() },
          }),
      );
      for (const worker of workers) worker.start();
    },
    async stopWorkers() {
      await Promise.all(workers.map((w) => w.drain(5_000).then(() => w.close())));
      await consumer?.close();
      workers = [];
    },
    async close() {
      await producer.close();
    },
  };
}

// ------------------------------------------------------------------ BullMQ (loaded at run time)

interface BullQueue {
  add(name: string, data: Payload): Promise<unknown>;
  close(): Promise<void>;
}
interface BullWorker {
  on(event: "completed", listener: () => void): unknown;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
export interface BullModule {
  Queue: new (name: string, options: { connection: object }) => BullQueue;
  Worker: new (
    name: string,
    processor: (job: { data: Payload }) => Promise<unknown>,
    options: { connection: object; concurrency: number },
  ) => BullWorker;
}

export function loadBullmq(): BullModule {
  const dir = process.env.BENCH_BULLMQ_DIR ?? path.join(homedir(), ".cache", "agent-fleet", "bench-bullmq");
  const manifest = path.join(dir, "package.json");
  if (!existsSync(path.join(dir, "node_modules", "bullmq"))) {
    console.log(`[bench] installing bullmq@6.7.0 (benchmark only) into ${dir} ...`);
    mkdirSync(dir, { recursive: true });
    if (!existsSync(manifest)) writeFileSync(manifest, '{ "name": "bench-bullmq", "private": true }\n');
    execFileSync(
      "npm",
      [
        "install",
        "--no-save",
        "--omit=optional",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "bullmq@6.7.0",
        "ioredis@6.0.0",
      ],
      { cwd: dir, stdio: "inherit" },
    );
  }
  const loaded: unknown = createRequire(manifest)("bullmq");
  if (typeof loaded !== "object" || loaded === null || !("Queue" in loaded) || !("Worker" in loaded)) {
    throw new Error(`${dir}: the bullmq package does not export Queue and Worker`);
  }
  return loaded as BullModule;
}

export function bullSubject(url: string, bull: BullModule): Subject {
  const { port } = new URL(url);
  const connection = { host: "127.0.0.1", port: Number(port), maxRetriesPerRequest: null };
  const queues = new Map<number, BullQueue>();
  let workers: BullWorker[] = [];
  const queueOf = (q: number) => {
    let queue = queues.get(q);
    if (!queue) {
      queue = new bull.Queue(`bench-${AGENT_TYPES[q]}`, { connection });
      queues.set(q, queue);
    }
    return queue;
  };
  return {
    name: "BullMQ",
    async enqueue(q, payload) {
      await queueOf(q).add("task", payload);
    },
    async startWorkers(qs, concurrency, onStart, onDone) {
      workers = qs.map(
        (q) =>
          new bull.Worker(
            `bench-${AGENT_TYPES[q]}`,
            async (job) => {
              onStart(job.data);
              return null;
            },
            { connection, concurrency },
          ),
      );
      for (const worker of workers) worker.on("completed", onDone);
      await Promise.all(workers.map((w) => w.waitUntilReady()));
    },
    async stopWorkers() {
      await Promise.all(workers.map((w) => w.close()));
      workers = [];
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
