/**
 * The task router against a real redis-server: auth, validation (nothing enqueued on a 4xx),
 * the body limit, submit → status → result with a real worker, /v1/queues and the gauges.
 */
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor, echoSettings } from "../../agent-runtime/src/executors";
import { createLogger } from "../../agent-runtime/src/lib/log";
import { createMetrics } from "../../agent-runtime/src/lib/metrics";
import { executorHandler } from "../../agent-runtime/src/agent/main";
import { TaskQueue } from "../../agent-runtime/src/queue";
import { loadRouterConfig } from "../../agent-runtime/src/router/config";
import { startRouter, type RunningRouter } from "../../agent-runtime/src/router/main";
import { Worker } from "../../agent-runtime/src/worker";
import { keysUnder, startRedis, uniquePrefix, waitUntil, type RedisServer } from "./support";

const TOKEN = "test-token-0123456789abcdef";
const OTHER_TOKEN = "second-token-abcdefghijklmn";
const silent = createLogger({}, "silent");

let redis: RedisServer;
let router: RunningRouter;
let prefix: string;

async function startTestRouter(redisUrl: string, queuePrefix: string, env: Record<string, string> = {}) {
  const config = loadRouterConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: queuePrefix,
    ROUTER_TOKENS: `${TOKEN}, ${OTHER_TOKEN}`,
    ROUTER_MAX_BODY_BYTES: "4096",
    ...env,
  });
  return startRouter({
    config,
    logger: silent,
    registry: createMetrics(new Registry(), { processMetrics: false }).registry,
    redisTimeoutMs: 300,
  });
}

beforeAll(async () => {
  redis = await startRedis({ appendonly: false });
  prefix = uniquePrefix("router");
  router = await startTestRouter(redis.url, prefix);
});

afterAll(async () => {
  await router?.close();
  await redis?.destroy();
});

interface Reply {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const token = options.token === undefined ? TOKEN : options.token;
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${router.url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...options.headers,
    },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

async function queueKeys(): Promise<string[]> {
  return keysUnder(router.queue.redis, prefix);
}

describe("probes", () => {
  it("serves /healthz and /readyz without a token", async () => {
    expect((await call("GET", "/healthz", { token: null })).status).toBe(200);
    const ready = await call("GET", "/readyz", { token: null });
    expect(ready).toMatchObject({ status: 200, json: { status: "ready" } });
  });
});

describe("auth", () => {
  const task = { type: "code-review", input: { prompt: "look" } };

  it("refuses a request without a token, saying how to send one", async () => {
    const reply = await call("POST", "/v1/tasks", { body: task, token: null });
    expect(reply.status).toBe(401);
    expect(reply.json).toEqual({ error: "missing Authorization: Bearer <token>" });
    expect(reply.headers.get("www-authenticate")).toBe('Bearer realm="agent-fleet"');
  });

  it("refuses a wrong token, a token of another scheme and a prefix of a good token", async () => {
    for (const authorization of [
      `Bearer wrong-token-0123456789`,
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN.slice(0, -1)}`,
    ]) {
      const reply = await call("POST", "/v1/tasks", { body: task, token: null, headers: { authorization } });
      expect(reply.status, authorization).toBe(401);
    }
    expect((await call("GET", "/v1/queues", { token: "nope-nope-nope-nope" })).status).toBe(401);
    expect((await call("GET", "/v1/tasks/abc", { token: null })).status).toBe(401);
    expect(await queueKeys()).toEqual([]);
  });

  it("accepts every configured token", async () => {
    expect((await call("GET", "/v1/queues", { token: TOKEN })).status).toBe(200);
    expect((await call("GET", "/v1/queues", { token: OTHER_TOKEN })).status).toBe(200);
  });
});

describe("rejected submissions enqueue nothing", () => {
  const cases: [
    string,
    { body?: unknown; raw?: string; headers?: Record<string, string> },
    number,
    RegExp,
  ][] = [
    ["not JSON", { raw: "{type: code-review" }, 400, /request body is not valid JSON/],
    ["empty", { raw: " " }, 400, /request body is empty/],
    [
      "form-encoded",
      { raw: "a=b", headers: { "content-type": "application/x-www-form-urlencoded" } },
      415,
      /Content-Type: application\/json/,
    ],
    ["an array", { body: [1, 2] }, 400, /invalid task/],
    ["no type", { body: { input: { prompt: "x" } } }, 400, /invalid task/],
    ["unknown type", { body: { type: "make-coffee", input: { prompt: "x" } } }, 400, /invalid task/],
    ["string input", { body: { type: "code-review", input: "x" } }, 400, /invalid task/],
    ["bad priority", { body: { type: "code-review", input: {}, priority: "urgent" } }, 400, /invalid task/],
    ["unknown field", { body: { type: "code-review", input: {}, colour: "red" } }, 400, /invalid task/],
    ["bad id", { body: { type: "code-review", input: {}, id: "../etc/passwd" } }, 400, /invalid task/],
  ];

  it.each(cases)("%s", async (_name, request, status, message) => {
    const reply = await call("POST", "/v1/tasks", request);
    expect(reply.status).toBe(status);
    expect(String(reply.json.error)).toMatch(message);
    expect(await queueKeys()).toEqual([]);
  });

  it("names the field and the allowed values", async () => {
    const reply = await call("POST", "/v1/tasks", { body: { type: "make-coffee", priority: 9, input: "x" } });
    const details = reply.json.details as { path: string; message: string }[];
    expect(details.map((d) => d.path).sort()).toEqual(["input", "priority", "type"]);
    expect(details.find((d) => d.path === "type")!.message).toMatch(
      /^unknown task type "make-coffee"; known types: code-generation, /,
    );
    expect(details.find((d) => d.path === "input")!.message).toBe(
      'must be a JSON object, e.g. {"prompt": "..."}',
    );
  });

  it("refuses a body over the limit with 413", async () => {
    const reply = await call("POST", "/v1/tasks", {
      body: { type: "code-review", input: { prompt: "x".repeat(5000) } },
    });
    expect(reply.status).toBe(413);
    expect(reply.json).toEqual({
      error: "request body is larger than the 4096-byte limit",
      details: { limitBytes: 4096 },
    });
    expect(await queueKeys()).toEqual([]);
  });

  it("answers unknown paths and methods with JSON", async () => {
    expect(await call("GET", "/v2/nothing")).toMatchObject({
      status: 404,
      json: { error: "no route for GET /v2/nothing" },
    });
    expect((await call("DELETE", "/v1/tasks")).status).toBe(405);
  });
});

describe("submit, status and result", () => {
  it("routes by task type, runs on a worker and shows the result", async () => {
    const submitted = await call("POST", "/v1/tasks", {
      body: { type: "sql-query", priority: "high", input: { prompt: "count users" } },
    });
    expect(submitted.status).toBe(202);
    expect(submitted.json).toMatchObject({ agent: "data", status: "queued" });
    const id = String(submitted.json.id);
    expect(submitted.headers.get("location")).toBe(`/v1/tasks/${id}`);

    const queued = await call("GET", `/v1/tasks/${id}`);
    expect(queued.json).toMatchObject({
      id,
      agent: "data",
      type: "sql-query",
      priority: 1,
      status: "queued",
    });

    const queue = new TaskQueue({ redis: redis.url, prefix });
    const executor = createExecutor(echoSettings("data"));
    const worker = new Worker({
      queue,
      agent: "data",
      execute: executorHandler(executor),
      logger: silent,
      metrics: createMetrics(new Registry(), { processMetrics: false }),
    }).start();
    try {
      const done = await waitUntil(async () => {
        const view = await call("GET", `/v1/tasks/${id}`);
        return view.json.status === "succeeded" ? view : undefined;
      });
      expect(done.json.result).toEqual({
        output: "Task type: sql-query\n\ncount users",
        executor: "echo",
        model: "echo",
        usage: { inputTokens: 0, outputTokens: 0 },
        finishReason: "stop",
      });
      expect(done.json.deliveries).toBe(1);
    } finally {
      await worker.drain(1000);
      await worker.close();
      await queue.close();
    }
  });

  it("treats a repeated id or Idempotency-Key as the same task", async () => {
    const body = { type: "research", id: "report-42", input: { prompt: "x" } };
    expect((await call("POST", "/v1/tasks", { body })).status).toBe(202);
    const again = await call("POST", "/v1/tasks", { body });
    expect(again).toMatchObject({
      status: 200,
      json: { id: "report-42", agent: "researcher", duplicate: true },
    });

    const headers = { "idempotency-key": "client-retry-7" };
    const first = await call("POST", "/v1/tasks", { body: { type: "research", input: {} }, headers });
    const second = await call("POST", "/v1/tasks", { body: { type: "research", input: {} }, headers });
    expect(first).toMatchObject({ status: 202, json: { id: "client-retry-7" } });
    expect(second).toMatchObject({ status: 200, json: { id: "client-retry-7", duplicate: true } });
    const clash = await call("POST", "/v1/tasks", {
      body: { type: "research", input: {}, idempotencyKey: "other" },
      headers,
    });
    expect(clash.status).toBe(400);
  });

  it("answers 404 for an unknown id and 400 for a malformed one or an unknown agent", async () => {
    expect(await call("GET", "/v1/tasks/never-submitted")).toMatchObject({
      status: 404,
      json: { error: "no task never-submitted (never submitted, or its result has expired)" },
    });
    expect((await call("GET", `/v1/tasks/${encodeURIComponent("a b")}`)).status).toBe(400);
    expect((await call("GET", "/v1/tasks/report-42?agent=barista")).status).toBe(400);
    expect((await call("GET", "/v1/tasks/report-42?agent=researcher")).json).toMatchObject({
      agent: "researcher",
    });
    expect((await call("GET", "/v1/tasks/report-42?agent=python")).status).toBe(404);
  });
});

describe("queue statistics and autoscaling gauges", () => {
  let statsPrefix: string;
  let statsRouter: RunningRouter;

  beforeAll(async () => {
    statsPrefix = uniquePrefix("stats");
    statsRouter = await startTestRouter(redis.url, statsPrefix);
  });
  afterAll(async () => statsRouter.close());

  const get = async (path: string) => {
    const response = await fetch(`${statsRouter.url}${path}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return { status: response.status, text: await response.text() };
  };

  it("reports ready by priority, in-flight and oldest age per agent, and exports them", async () => {
    const submit = (priority: string) =>
      fetch(`${statsRouter.url}/v1/tasks`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ type: "code-generation", priority, input: { prompt: "x" } }),
      });
    for (const p of ["P0", "critical", "low", "P2"]) expect((await submit(p)).status).toBe(202);
    const claimed = await statsRouter.queue.claim("python", { count: 1, leaseMs: 60_000, workerId: "test" });
    expect(claimed).toHaveLength(1);
    expect(claimed[0]!.priority).toBe(0);

    const queues = JSON.parse((await get("/v1/queues")).text) as { agents: Record<string, unknown>[] };
    expect(queues.agents).toHaveLength(12);
    const python = queues.agents.find((a) => a.agent === "python")!;
    expect(python).toMatchObject({ ready: { P0: 1, P1: 0, P2: 1, P3: 1 }, inFlight: 1, delayed: 0, dead: 0 });
    expect(python.oldestReadyAgeSeconds).toEqual(expect.any(Number));
    expect(queues.agents.find((a) => a.agent === "ml")).toMatchObject({
      inFlight: 0,
      oldestReadyAgeSeconds: null,
    });

    const metrics = await get("/metrics");
    expect(metrics.status).toBe(200);
    const line = (name: string) =>
      metrics.text
        .split("\n")
        .find((l) => l.startsWith(name))
        ?.split(" ")
        .pop();
    expect(line('agent_queue_backlog{agent_type="python"}')).toBe("4");
    expect(line('agent_queue_backlog{agent_type="ml"}')).toBe("0");
    expect(line('agent_queue_ready{agent_type="python",priority="P0"}')).toBe("1");
    expect(line('agent_queue_ready{agent_type="python",priority="P3"}')).toBe("1");
    expect(line('agent_queue_depth{agent_type="python"}')).toBe("3");
    expect(line('agent_queue_in_flight{agent_type="python"}')).toBe("1");
    // Per band: P0 and P2 have a ready task (the claimed P0 was the other one), P1 has none.
    for (const band of ["P0", "P2", "P3"]) {
      const age = Number(line(`agent_queue_oldest_age_seconds{agent_type="python",priority="${band}"}`));
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(60);
    }
    expect(line('agent_queue_oldest_age_seconds{agent_type="python",priority="P1"}')).toBe("0");
    expect(metrics.text).not.toMatch(/^agent_queue_oldest_age_seconds\{agent_type="python"\} /m);
    expect(line("agent_queue_redis_up")).toBe("1");
  });

  it("counts its answers by method, route pattern and status code", async () => {
    const before = await responseCounts(statsRouter);
    await fetch(`${statsRouter.url}/v1/tasks/never-submitted`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await fetch(`${statsRouter.url}/v1/tasks/another-one`, { headers: { authorization: `Bearer ${TOKEN}` } });
    await fetch(`${statsRouter.url}/v1/queues`);
    await get("/v1/queues");
    const after = await responseCounts(statsRouter);
    const added = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    expect(added("GET /v1/tasks/:id 404")).toBe(2);
    expect(added("GET /v1/queues 401")).toBe(1);
    expect(added("GET /v1/queues 200")).toBe(1);
    // The raw path never becomes a label value.
    expect([...after.keys()].filter((k) => k.includes("never-submitted"))).toEqual([]);
  });

  it("counts a failure it answers with 500 under code 500 (the 5xx alert's numerator)", async () => {
    const queue = new TaskQueue({ redis: redis.url, prefix: uniquePrefix("fails") });
    queue.getTask = () => Promise.reject(new Error("the queue broke"));
    const config = loadRouterConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      REDIS_URL: redis.url,
      ROUTER_AUTH: "disabled",
    });
    const failing = await startRouter({ config, logger: silent, queue, registry: new Registry() });
    try {
      expect((await fetch(`${failing.url}/v1/tasks/some-task`)).status).toBe(500);
      expect((await responseCounts(failing)).get("GET /v1/tasks/:id 500")).toBe(1);
    } finally {
      await failing.close();
      await queue.close();
    }
  });
});

/** agent_router_responses_total as "METHOD route code" → count, from the router's own scrape. */
async function responseCounts(router: RunningRouter): Promise<Map<string, number>> {
  const text = await (await fetch(`${router.url}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(
    /^agent_router_responses_total\{method="([^"]*)",route="([^"]*)",code="([^"]*)"\} (\S+)$/gm,
  )) {
    counts.set(`${m[1]} ${m[2]} ${m[3]}`, Number(m[4]));
  }
  return counts;
}

describe("when Redis goes away", () => {
  it("turns /readyz to 503 but keeps serving /metrics", async () => {
    const lonely = await startRedis({ appendonly: false });
    const r = await startTestRouter(lonely.url, uniquePrefix("down"));
    try {
      expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
      await lonely.kill9();
      const ready = await fetch(`${r.url}/readyz`);
      expect(ready.status).toBe(503);
      const metrics = await fetch(`${r.url}/metrics`);
      expect(metrics.status).toBe(200);
      // The Redis-down alert reads this: the scrape succeeded, the statistics read did not.
      expect(await metrics.text()).toMatch(/^agent_queue_redis_up 0$/m);
    } finally {
      await r.close().catch(() => undefined);
      await lonely.destroy();
    }
  });
});
