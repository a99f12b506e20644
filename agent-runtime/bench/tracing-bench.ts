/**
 * `BENCH_TRACING=1 npm run bench:queue` — what tracing costs the queue, off and on side by side in
 * one process and on one redis-server (no persistence):
 *
 *   enqueue   tasks/s, 50 enqueues at a time, each under a root span as the router's submit span
 *             (on: the span, and its traceparent stored with the task)
 *   process   tasks/s of one worker at concurrency 10 draining that backlog with no-op tasks
 *             (on: a "queue wait" and a "process" span per task)
 *
 * "On" exports for real: OTLP/HTTP (JSON) through the batch span processor to a local sink, an HTTP
 * server in this process that counts the spans it receives and answers 200 — so serialising and
 * sending are measured, and spans dropped by a full batch queue show up in the count. "Off" is the
 * default: no endpoint, the SDK not loaded. Modes alternate, BENCH_REPEATS (3) rounds; the best
 * run of each is kept. BENCH_SCALE scales the task count (20,000 at 1).
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { createLogger } from "../src/lib/log";
import { createMetrics } from "../src/lib/metrics";
import { startTracing, tracer, type Tracing } from "../src/lib/tracing";
import { TaskQueue } from "../src/queue";
import { Worker } from "../src/worker";

const silent = createLogger({}, "silent");

interface Run {
  enqueuePerSecond: number;
  processPerSecond: number;
}

/** An OTLP/HTTP receiver that only counts spans (`"spanId"` keys of the JSON body). */
async function startSink(): Promise<{ url: string; spans: () => number; stop: () => Promise<void> }> {
  let spans = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      spans += body.split('"spanId"').length - 1;
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    spans: () => spans,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function oneRun(url: string, redis: Redis, count: number, traced: boolean): Promise<Run> {
  await redis.flushall();
  const queue = new TaskQueue({ redis: url, prefix: "trace-bench" });
  const submit = () =>
    traced
      ? tracer().startActiveSpan("POST /v1/tasks", (span) =>
          queue.enqueue({ type: "code-review", input: { n: 1 } }).finally(() => span.end()),
        )
      : queue.enqueue({ type: "code-review", input: { n: 1 } });
  let sent = 0;
  const enqueueStart = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (sent < count) {
        sent++;
        await submit();
      }
    }),
  );
  const enqueueSeconds = (performance.now() - enqueueStart) / 1000;

  let done = 0;
  let resolveDone: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (resolveDone = resolve));
  const worker = new Worker({
    queue,
    agent: "reviewer",
    concurrency: 10,
    logger: silent,
    metrics: createMetrics(undefined, { processMetrics: false }),
    execute: () => Promise.resolve(null),
    hooks: { onFinish: () => ++done === count && resolveDone() },
  });
  const processStart = performance.now();
  worker.start();
  await allDone;
  const processSeconds = (performance.now() - processStart) / 1000;
  await worker.drain(5_000);
  await worker.close();
  await queue.close();
  return { enqueuePerSecond: count / enqueueSeconds, processPerSecond: count / processSeconds };
}

/** Runs the comparison; returns the report's lines. */
export async function tracingBench(
  url: string,
  redis: Redis,
  count: number,
  repeats: number,
): Promise<string> {
  const sink = await startSink();
  const best = {
    off: { enqueuePerSecond: 0, processPerSecond: 0 },
    on: { enqueuePerSecond: 0, processPerSecond: 0 },
  };
  let exported = 0;
  try {
    // An untimed pass first, so neither mode measures the JIT compiling the code.
    await oneRun(url, redis, Math.min(count, 2_000), false);
    for (let round = 0; round < repeats; round++) {
      for (const mode of round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
        let tracing: Tracing | undefined;
        if (mode === "on") {
          tracing = await startTracing(
            { tracesUrl: sink.url, serviceName: "trace-bench", sampler: "parentbased_always_on", ratio: 1 },
            { defaultServiceName: "trace-bench", logger: silent },
          );
        }
        const before = sink.spans();
        const run = await oneRun(url, redis, count, mode === "on");
        await tracing?.shutdown();
        if (mode === "on") exported = sink.spans() - before;
        best[mode].enqueuePerSecond = Math.max(best[mode].enqueuePerSecond, run.enqueuePerSecond);
        best[mode].processPerSecond = Math.max(best[mode].processPerSecond, run.processPerSecond);
        console.log(
          `[bench] tracing ${mode.padEnd(3)} round ${round + 1}: enqueue ${run.enqueuePerSecond.toFixed(0)}/s, ` +
            `process ${run.processPerSecond.toFixed(0)}/s`,
        );
      }
    }
  } finally {
    await sink.stop();
  }
  const ratio = (on: number, off: number) => `${((on / off) * 100).toFixed(1)}% of off`;
  return [
    `tracing overhead (${count} tasks, best of ${repeats}; on = OTLP/HTTP to a local counting sink, all sampled)`,
    `  enqueue (50 at a time)   off ${best.off.enqueuePerSecond.toFixed(0)}/s   on ${best.on.enqueuePerSecond.toFixed(0)}/s   ${ratio(best.on.enqueuePerSecond, best.off.enqueuePerSecond)}`,
    `  process (1 worker, c=10) off ${best.off.processPerSecond.toFixed(0)}/s   on ${best.on.processPerSecond.toFixed(0)}/s   ${ratio(best.on.processPerSecond, best.off.processPerSecond)}`,
    `  spans exported in the last "on" run: ${exported} of ${count * 3} (submit, queue wait, process per task)`,
  ].join("\n");
}
