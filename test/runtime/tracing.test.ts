/**
 * Tracing against a real redis-server, spans caught by an in-memory exporter: one trace per task
 * from the router's submit span through the queue wait and the worker's delivery to the model
 * call (children across the queue, as docs/operations.md says); retries and redeliveries as more
 * deliveries in the same trace; an incoming traceparent honoured (sampled or not); the sync path;
 * the trace context's validation in zod and in Lua; and tracing off: no spans, no SDK loaded.
 */
import path from "node:path";
import { Registry } from "prom-client";
import * as semconv from "@opentelemetry/semantic-conventions";
import * as incubating from "@opentelemetry/semantic-conventions/incubating";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { executorHandler, startAgent } from "../../agent-runtime/src/agent/main";
import { createExecutor, type ExecutorSettings } from "../../agent-runtime/src/executors";
import { EnvError } from "../../agent-runtime/src/lib/env";
import { createLogger } from "../../agent-runtime/src/lib/log";
import { createMetrics } from "../../agent-runtime/src/lib/metrics";
import {
  SEMCONV,
  startTracing,
  TASK_ATTRIBUTES,
  tracingActive,
  tracingSettingsFromEnv,
  type Tracing,
} from "../../agent-runtime/src/lib/tracing";
import { InvalidTaskError, TaskQueue } from "../../agent-runtime/src/queue";
import { loadScripts } from "../../agent-runtime/src/queue/scripts";
import { loadRouterConfig } from "../../agent-runtime/src/router/config";
import { startRouter, type RunningRouter } from "../../agent-runtime/src/router/main";
import { Worker, type TaskHandler } from "../../agent-runtime/src/worker";
import { loadWorkerEnv } from "../../agent-runtime/src/worker/env";
import {
  hrMs,
  memoryExporter,
  spawnScript,
  startFakeLlm,
  startRedis,
  uniquePrefix,
  waitUntil,
  type FakeLlm,
  type FinishedSpan,
  type MemoryExporter,
  type RedisServer,
} from "./support";

const silent = createLogger({}, "silent");
const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";

let redis: RedisServer;
let llm: FakeLlm;
let exporter: MemoryExporter;
let tracing: Tracing;
let router: RunningRouter;
const workers: Worker[] = [];

const SPAN_KIND = { SERVER: 1, CLIENT: 2, CONSUMER: 4 } as const;

function openaiSettings(): ExecutorSettings {
  return {
    agent: "reviewer",
    kind: "openai",
    model: "fake-llm",
    baseUrl: llm.baseUrl,
    apiKey: undefined,
    systemPrompt: "review",
    temperature: 0,
    maxTokens: 16,
    timeoutMs: 5_000,
    retry: { maxRetries: 0, baseDelayMs: 10, maxDelayMs: 100 },
    configDir: "",
    echoDelayMs: 0,
  };
}

function startWorker(
  queue: TaskQueue,
  execute: TaskHandler,
  extra: Partial<ConstructorParameters<typeof Worker>[0]> = {},
) {
  const worker = new Worker({
    queue,
    agent: "reviewer",
    execute,
    logger: silent,
    metrics: createMetrics(new Registry(), { processMetrics: false }),
    blockTimeoutMs: 100,
    reapIntervalMs: 50,
    backoff: { baseMs: 20, maxMs: 40 },
    ...extra,
  });
  workers.push(worker.start());
  return worker;
}

async function submit(headers: Record<string, string> = {}, body: Record<string, unknown> = {}) {
  const response = await fetch(`${router.url}/v1/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ type: "code-review", priority: 1, input: { prompt: "check it" }, ...body }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

async function finished(id: string, status = "succeeded") {
  return waitUntil(
    async () => {
      const record = await router.queue.getTask(id);
      return record?.status === status ? record : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 10, message: `task ${id} ${status}` },
  );
}

/** The finished spans of one task (by its id attribute), after a flush. */
async function spansOf(id: string, atLeast: number): Promise<FinishedSpan[]> {
  return waitUntil(
    async () => {
      await tracing.forceFlush();
      const spans = exporter.getFinishedSpans().filter((s) => s.attributes[TASK_ATTRIBUTES.id] === id);
      return spans.length >= atLeast ? spans : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20, message: `${atLeast} spans of task ${id}` },
  );
}

const named = (spans: FinishedSpan[], name: string) => spans.filter((s) => s.name === name);
const one = (spans: FinishedSpan[], name: string) => {
  const found = named(spans, name);
  expect(found, `spans named ${name}: ${spans.map((s) => s.name).join(", ")}`).toHaveLength(1);
  return found[0]!;
};

beforeAll(async () => {
  redis = await startRedis({ appendonly: false });
  llm = await startFakeLlm();
  exporter = memoryExporter();
  tracing = await startTracing(
    { tracesUrl: undefined, serviceName: undefined, sampler: "parentbased_always_on", ratio: 1 },
    { defaultServiceName: "tracing-test", logger: silent, exporter, scheduledDelayMs: 20 },
  );
  router = await startRouter({
    config: loadRouterConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix("trace"),
      ROUTER_AUTH: "disabled",
    }),
    logger: silent,
    registry: createMetrics(new Registry(), { processMetrics: false }).registry,
  });
});

afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.close();
});

afterAll(async () => {
  await router?.close();
  await tracing?.shutdown();
  await llm?.stop();
  await redis?.destroy();
});

describe("one trace per task", () => {
  beforeEach(() => exporter.reset());

  it("router submit → queue wait → worker delivery → model call, continuing the client's traceparent", async () => {
    startWorker(router.queue, executorHandler(createExecutor(openaiSettings())));
    const id = await submit({ traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
    const record = await finished(id);
    // The task keeps the submit span's context: the trace id is the client's.
    expect(record.traceparent).toMatch(new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-01$`));

    const spans = await spansOf(id, 4);
    const submitSpan = one(spans, "POST /v1/tasks");
    const wait = one(spans, "queue wait");
    const processSpan = one(spans, "process reviewer");
    const model = one(spans, "POST /v1/chat/completions");
    for (const span of spans) {
      expect(span.spanContext().traceId).toBe(CLIENT_TRACE);
      expect(span.attributes).toMatchObject({
        [TASK_ATTRIBUTES.id]: id,
        [TASK_ATTRIBUTES.agent]: "reviewer",
        [TASK_ATTRIBUTES.priority]: 1,
        [TASK_ATTRIBUTES.type]: "code-review",
      });
    }
    // Parents: client → submit → (queue wait, delivery) → model call.
    expect(submitSpan.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(record.traceparent).toBe(`00-${CLIENT_TRACE}-${submitSpan.spanContext().spanId}-01`);
    expect(wait.parentSpanContext?.spanId).toBe(submitSpan.spanContext().spanId);
    expect(processSpan.parentSpanContext?.spanId).toBe(submitSpan.spanContext().spanId);
    expect(model.parentSpanContext?.spanId).toBe(processSpan.spanContext().spanId);
    expect(processSpan.links).toEqual([]);

    expect(submitSpan.kind).toBe(SPAN_KIND.SERVER);
    expect(submitSpan.attributes).toMatchObject({
      [SEMCONV.HTTP_REQUEST_METHOD]: "POST",
      [SEMCONV.HTTP_ROUTE]: "/v1/tasks",
      [SEMCONV.HTTP_RESPONSE_STATUS_CODE]: 202,
      [TASK_ATTRIBUTES.duplicate]: false,
    });
    // The wait runs from enqueuedAt to the claim, where the delivery starts.
    expect(hrMs(wait.startTime)).toBe(record.enqueuedAt);
    expect(Math.abs(hrMs(wait.endTime) - hrMs(processSpan.startTime))).toBeLessThan(1);
    expect(processSpan.kind).toBe(SPAN_KIND.CONSUMER);
    expect(processSpan.attributes).toMatchObject({
      [TASK_ATTRIBUTES.delivery]: 1,
      [TASK_ATTRIBUTES.outcome]: "succeeded",
      [SEMCONV.MESSAGING_DESTINATION_NAME]: "reviewer",
    });
    expect(model.kind).toBe(SPAN_KIND.CLIENT);
    const port = Number(new URL(llm.baseUrl).port);
    expect(model.attributes).toMatchObject({
      [SEMCONV.HTTP_REQUEST_METHOD]: "POST",
      [SEMCONV.HTTP_RESPONSE_STATUS_CODE]: 200,
      [SEMCONV.URL_FULL]: `${llm.baseUrl}/chat/completions`,
      [SEMCONV.SERVER_ADDRESS]: "127.0.0.1",
      [SEMCONV.SERVER_PORT]: port,
      [SEMCONV.GEN_AI_REQUEST_MODEL]: "fake-llm",
    });
    // The model server received the model-call span's context.
    const sent = llm.requests.at(-1)!.headers.traceparent;
    expect(sent).toBe(`00-${CLIENT_TRACE}-${model.spanContext().spanId}-01`);
  });

  it("a retry is one more delivery span in the same trace, after the first one's failure", async () => {
    let calls = 0;
    startWorker(router.queue, () => {
      calls++;
      return calls === 1 ? Promise.reject(new Error("flaky")) : Promise.resolve({ ok: true });
    });
    const id = await submit();
    await finished(id);
    const spans = await spansOf(id, 4);
    const submitSpan = one(spans, "POST /v1/tasks");
    expect(named(spans, "queue wait")).toHaveLength(1);
    const deliveries = named(spans, "process reviewer").sort(
      (a, b) =>
        Number(a.attributes[TASK_ATTRIBUTES.delivery]) - Number(b.attributes[TASK_ATTRIBUTES.delivery]),
    );
    expect(
      deliveries.map((s) => [s.attributes[TASK_ATTRIBUTES.delivery], s.attributes[TASK_ATTRIBUTES.outcome]]),
    ).toEqual([
      [1, "retrying"],
      [2, "succeeded"],
    ]);
    expect(deliveries[0]!.status).toMatchObject({ code: 2, message: "flaky" });
    for (const span of deliveries) {
      expect(span.spanContext().traceId).toBe(submitSpan.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(submitSpan.spanContext().spanId);
    }
    // The backoff shows as the gap between the two deliveries.
    expect(hrMs(deliveries[1]!.startTime)).toBeGreaterThanOrEqual(hrMs(deliveries[0]!.endTime));
  });

  it("a redelivery after a lost worker (lease expired, reaped) joins the same trace", async () => {
    const id = await submit();
    // A worker that claims and dies: no span of its own, its lease expires.
    const [claimed] = await router.queue.claim("reviewer", { count: 1, leaseMs: 100, workerId: "dead" });
    expect(claimed?.id).toBe(id);
    expect(claimed?.trace?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    startWorker(router.queue, () => Promise.resolve({ ok: true }));
    await finished(id);
    const spans = await spansOf(id, 2);
    const submitSpan = one(spans, "POST /v1/tasks");
    const redelivery = one(spans, "process reviewer");
    expect(redelivery.attributes[TASK_ATTRIBUTES.delivery]).toBe(2);
    expect(redelivery.parentSpanContext?.spanId).toBe(submitSpan.spanContext().spanId);
    // The wait in line belonged to the first delivery (whose worker died): none for a redelivery.
    expect(named(spans, "queue wait")).toEqual([]);
  });

  it("an incoming traceparent that is not sampled records nothing, but still travels with the task", async () => {
    startWorker(router.queue, executorHandler(createExecutor(openaiSettings())));
    const id = await submit({ traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-00` });
    const record = await finished(id);
    expect(record.traceparent).toMatch(new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-00$`));
    await tracing.forceFlush();
    expect(exporter.getFinishedSpans().filter((s) => s.attributes[TASK_ATTRIBUTES.id] === id)).toEqual([]);
    // The model server still hears the (unsampled) trace, so its own spans would follow suit.
    expect(llm.requests.at(-1)!.headers.traceparent).toMatch(
      new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-00$`),
    );
  });

  it("a duplicate submit is its own submit span; the task keeps its first trace", async () => {
    const first = await submit({}, { id: "dup-1" });
    const again = await fetch(`${router.url}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "dup-1", type: "code-review", input: { prompt: "x" } }),
    });
    expect(again.status).toBe(200);
    const spans = await spansOf(first, 2);
    const submits = named(spans, "POST /v1/tasks");
    expect(submits.map((s) => s.attributes[TASK_ATTRIBUTES.duplicate]).sort()).toEqual([false, true]);
    const original = submits.find((s) => s.attributes[TASK_ATTRIBUTES.duplicate] === false)!;
    const record = await router.queue.getTask(first);
    expect(record?.traceparent).toBe(
      `00-${original.spanContext().traceId}-${original.spanContext().spanId}-01`,
    );
  });
});

describe("the synchronous path", () => {
  beforeEach(() => exporter.reset());

  it("POST /v1/execute continues the mesh's traceparent and passes it on to the model", async () => {
    const env = loadWorkerEnv({
      AGENT_TYPE: "reviewer",
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix("sync"),
    });
    const agent = await startAgent({
      agent: "reviewer",
      worker: env,
      executor: createExecutor(openaiSettings()),
      metrics: createMetrics(new Registry(), { processMetrics: false }),
      logger: silent,
      http: { port: 0, host: "127.0.0.1", executeConcurrency: 2, maxBodyBytes: 65536 },
    });
    try {
      const response = await fetch(`http://127.0.0.1:${agent.http!.port}/v1/execute`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "task-type": "code-review",
          traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
        },
        body: JSON.stringify({ id: "sync-trace-1", input: { prompt: "now" } }),
      });
      expect(response.status).toBe(200);
      const spans = await spansOf("sync-trace-1", 2);
      const server = one(spans, "POST /v1/execute");
      const model = one(spans, "POST /v1/chat/completions");
      expect(server.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
      expect(model.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
      expect(model.spanContext().traceId).toBe(CLIENT_TRACE);
      expect(server.attributes).toMatchObject({
        [TASK_ATTRIBUTES.agent]: "reviewer",
        [SEMCONV.HTTP_RESPONSE_STATUS_CODE]: 200,
      });
      expect(llm.requests.at(-1)!.headers.traceparent).toBe(
        `00-${CLIENT_TRACE}-${model.spanContext().spanId}-01`,
      );
    } finally {
      await agent.drain(1_000);
    }
  });
});

describe("the stored trace context", () => {
  it("is validated by the submission schema and by enqueue.v1.lua", async () => {
    const queue = new TaskQueue({ redis: router.queue.redis, prefix: uniquePrefix("tp") });
    const bad = await queue
      .enqueue({ type: "code-review", input: {}, traceparent: "00-xyz-01" })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidTaskError);
    expect((bad as InvalidTaskError).field).toBe("traceparent");
    const badState = await queue
      .enqueue({
        type: "code-review",
        input: {},
        traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
        tracestate: 'a={"x"}',
      })
      .catch((e: unknown) => e);
    expect((badState as InvalidTaskError).field).toBe("tracestate");

    // An explicit context is stored as given, before the input.
    const given = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
    const { id } = await queue.enqueue({
      type: "code-review",
      input: { p: 1 },
      traceparent: given,
      tracestate: "vendor=abc",
    });
    const payload = await queue.redis.hget(queue.keys("reviewer").task(id), "payload");
    expect(payload).toMatch(/,"traceparent":"00-[^"]+","tracestate":"vendor=abc","input":\{"p":1\}\}$/);

    // Producers in other languages: the script checks ARGV[10] and ARGV[11].
    const keys = queue.keys("reviewer");
    const script = loadScripts()["enqueue.v1"];
    const run = (taskId: string, traceparent: string, tracestate: string) =>
      script.run(
        queue.redis,
        [keys.task(taskId), keys.ready, keys.seq, keys.marker],
        [taskId, "code-review", "1", "{}", "", "", "", String(Date.now()), "", traceparent, tracestate],
      ) as Promise<[number, string]>;
    expect((await run("lua-1", "00-ABC", ""))[1]).toMatch(/^traceparent: /);
    expect((await run("lua-2", given.toUpperCase(), ""))[1]).toMatch(/^traceparent: /);
    expect((await run("lua-3", given, "a={b}"))[1]).toMatch(/^tracestate: /);
    expect((await run("lua-4", given, "x".repeat(513)))[1]).toMatch(/^tracestate: /);
    expect((await run("lua-5", given, "vendor=abc"))[0]).toBe(1);
    const [claimed] = await queue.claim("reviewer", { count: 1, leaseMs: 1000, workerId: "w" });
    expect(claimed?.trace).toEqual({ traceparent: given, tracestate: "vendor=abc" });
  });
});

describe("configuration", () => {
  it("reads the standard OpenTelemetry variables, and names a bad one", () => {
    const base = { AGENT_TYPE: "reviewer" };
    expect(tracingSettingsFromEnv(loadWorkerEnv(base))).toEqual({
      tracesUrl: undefined,
      serviceName: undefined,
      sampler: "parentbased_always_on",
      ratio: 1,
    });
    expect(
      tracingSettingsFromEnv(
        loadWorkerEnv({
          ...base,
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
          OTEL_SERVICE_NAME: "reviewers",
          OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
          OTEL_TRACES_SAMPLER_ARG: "0.25",
        }),
      ),
    ).toEqual({
      tracesUrl: "http://collector:4318/v1/traces",
      serviceName: "reviewers",
      sampler: "parentbased_traceidratio",
      ratio: 0.25,
    });
    for (const [name, value, message] of [
      ["OTEL_TRACES_SAMPLER_ARG", "2", "must be a number from 0 to 1"],
      ["OTEL_TRACES_SAMPLER", "sometimes", "must be one of always_on"],
      [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "collector:4318",
        "must be the http:// or https:// URL of an OTLP/HTTP receiver",
      ],
    ] as const) {
      const error = (() => {
        try {
          loadWorkerEnv({ ...base, [name]: value });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(EnvError);
      expect((error as EnvError).variables).toEqual([name]);
      expect((error as Error).message).toContain(`${name}="${value}": ${message}`);
      expect(() => loadRouterConfig({ ROUTER_AUTH: "disabled", [name]: value })).toThrow(name);
    }
  });

  it("spells the semantic-convention names as @opentelemetry/semantic-conventions does", () => {
    expect(SEMCONV).toEqual({
      HTTP_REQUEST_METHOD: semconv.ATTR_HTTP_REQUEST_METHOD,
      HTTP_ROUTE: semconv.ATTR_HTTP_ROUTE,
      HTTP_RESPONSE_STATUS_CODE: semconv.ATTR_HTTP_RESPONSE_STATUS_CODE,
      HTTP_REQUEST_RESEND_COUNT: semconv.ATTR_HTTP_REQUEST_RESEND_COUNT,
      URL_FULL: semconv.ATTR_URL_FULL,
      URL_PATH: semconv.ATTR_URL_PATH,
      SERVER_ADDRESS: semconv.ATTR_SERVER_ADDRESS,
      SERVER_PORT: semconv.ATTR_SERVER_PORT,
      ERROR_TYPE: semconv.ATTR_ERROR_TYPE,
      MESSAGING_SYSTEM: incubating.ATTR_MESSAGING_SYSTEM,
      MESSAGING_OPERATION_TYPE: incubating.ATTR_MESSAGING_OPERATION_TYPE,
      MESSAGING_DESTINATION_NAME: incubating.ATTR_MESSAGING_DESTINATION_NAME,
      MESSAGING_MESSAGE_ID: incubating.ATTR_MESSAGING_MESSAGE_ID,
      GEN_AI_REQUEST_MODEL: incubating.ATTR_GEN_AI_REQUEST_MODEL,
      GEN_AI_PROVIDER_NAME: incubating.ATTR_GEN_AI_PROVIDER_NAME,
    });
  });
});

describe("tracing off", () => {
  it("after shutdown, a task creates no spans", async () => {
    // The suite's tracing stops here (this block runs last); afterAll's shutdown is a no-op.
    const queue = new TaskQueue({ redis: router.queue.redis, prefix: uniquePrefix("off") });
    await tracing.shutdown();
    expect(tracingActive()).toBe(false);
    exporter.reset();
    startWorker(queue, () => Promise.resolve({ ok: true }));
    const { id } = await queue.enqueue({ type: "code-review", input: {} });
    await waitUntil(async () => (await queue.getTask(id))?.status === "succeeded", { timeoutMs: 5_000 });
    const record = await queue.getTask(id);
    expect(record?.traceparent).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it("loads no OpenTelemetry SDK module and stores no trace context (a process of its own)", async () => {
    const child = spawnScript(path.join(__dirname, "support", "fixtures", "tracing-off.ts"), {
      env: {
        REDIS_URL: redis.url,
        QUEUE_PREFIX: uniquePrefix("off"),
        OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
      },
    });
    const exit = await child.exited;
    expect(exit.code, child.output.join("\n")).toBe(0);
    const done = child.events.find((e) => e.event === "done");
    expect(done).toEqual({
      event: "done",
      status: "succeeded",
      enabled: false,
      active: false,
      otelPackages: ["@opentelemetry/api"],
      payloadHasTrace: false,
    });
  });
});
