/**
 * The agent process in-process against a real redis-server: POST /v1/execute (validation,
 * bounded concurrency → 429) and the drain (sync and queued work finish, or go back at the
 * deadline; no lease is left behind).
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "../../agent-runtime/src/agent/main";
import type { AgentType } from "../../agent-runtime/src/catalog";
import { createExecutor, echoSettings, type ExecutorSettings } from "../../agent-runtime/src/executors";
import { createLogger } from "../../agent-runtime/src/lib/log";
import { createMetrics } from "../../agent-runtime/src/lib/metrics";
import { TaskQueue } from "../../agent-runtime/src/queue";
import { loadWorkerEnv } from "../../agent-runtime/src/worker";
import { sleep, startRedis, uniquePrefix, waitUntil, type RedisServer } from "./support";

let redis: RedisServer;
const agents: RunningAgent[] = [];

beforeAll(async () => {
  redis = await startRedis({ appendonly: false });
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.forceStop().catch(() => undefined)));
});
afterAll(async () => redis?.destroy());

async function agentWith(options: {
  agent?: AgentType;
  settings?: ExecutorSettings;
  delayMs?: number;
  executeConcurrency?: number;
  concurrency?: number;
}) {
  const agent = options.agent ?? "python";
  const prefix = uniquePrefix("agent");
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const running = await startAgent({
    agent,
    worker: loadWorkerEnv({
      REDIS_URL: redis.url,
      AGENT_TYPE: agent,
      QUEUE_PREFIX: prefix,
      CONCURRENCY: String(options.concurrency ?? 2),
      REAP_INTERVAL_MS: "100",
      BLOCK_TIMEOUT_MS: "200",
    }),
    executor: createExecutor(options.settings ?? echoSettings(agent, options.delayMs ?? 0)),
    metrics,
    logger: createLogger({}, "silent"),
    http: {
      port: 0,
      host: "127.0.0.1",
      executeConcurrency: options.executeConcurrency ?? 2,
      maxBodyBytes: 4096,
    },
  });
  agents.push(running);
  const url = `http://127.0.0.1:${running.http!.port}`;
  const producer = new TaskQueue({ redis: redis.url, prefix });
  return { running, url, prefix, producer, metrics };
}

function execute(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}/v1/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

describe("POST /v1/execute", () => {
  it("runs a task of the agent at once and answers with the result", async () => {
    const { url } = await agentWith({});
    const response = await execute(
      url,
      { id: "sync-1", input: { prompt: "hi" } },
      { "task-type": "code-generation" },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      id: "sync-1",
      agent: "python",
      type: "code-generation",
      status: "succeeded",
      result: { output: "Task type: code-generation\n\nhi", executor: "echo" },
    });
  });

  it("rejects other agents' task types, a missing type and a header/body clash", async () => {
    const { url } = await agentWith({});
    const other = await execute(url, { type: "code-review", input: {} });
    expect(other.status).toBe(400);
    expect(await other.json()).toEqual({
      error: 'the python agent does not run "code-review": it belongs to the reviewer agent',
      details: [{ path: "type", message: "one of code-generation, python-scripting" }],
    });
    expect((await execute(url, { input: {} })).status).toBe(400);
    expect(
      (await execute(url, { type: "code-generation", input: {} }, { "task-type": "python-scripting" }))
        .status,
    ).toBe(400);
    const notObject = await execute(url, { type: "code-generation", input: "text" });
    expect(notObject.status).toBe(400);
  });

  it("runs at most the configured number at once and answers 429 beyond", async () => {
    const { url, metrics } = await agentWith({ delayMs: 400, executeConcurrency: 2 });
    const body = { type: "code-generation", input: { prompt: "slow" } };
    const first = [execute(url, body), execute(url, body)];
    await sleep(100); // both have taken their slots
    const third = await execute(url, body);
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("1");
    const refusal = (await third.json()) as { error: string };
    expect(refusal.error).toMatch(/running 2 of 2 synchronous tasks/);
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
    expect((await execute(url, body)).status).toBe(200); // slots are free again
    const text = await metrics.registry.metrics();
    expect(text).toContain('agent_execute_requests_total{agent_type="python",outcome="rejected"} 1');
    expect(text).toContain('agent_execute_requests_total{agent_type="python",outcome="succeeded"} 3');
  });
});

describe("drain", () => {
  it("finishes running sync and queued work, refuses new work and leaves no lease", async () => {
    const { running, url, producer, prefix } = await agentWith({ delayMs: 300 });
    await producer.enqueue({ id: "queued-1", type: "code-generation", input: { prompt: "q" } });
    await waitUntil(async () => (await producer.getTask("queued-1"))?.status === "running");
    const sync = execute(url, { type: "code-generation", input: { prompt: "s" } });
    await sleep(50);

    const drained = running.drain(5_000);
    await sleep(20);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    const refused = await execute(url, { type: "code-generation", input: {} });
    expect(refused.status).toBe(503);

    expect((await sync).status).toBe(200);
    expect(await drained).toMatchObject({ timedOut: false, released: 0 });
    expect((await producer.getTask("queued-1"))?.status).toBe("succeeded");
    expect(await producer.redis.zcard(`${prefix}:{python}:leases`)).toBe(0);
    await producer.close();
  });

  it("at the deadline gives queued work back to ready and tells sync callers to retry", async () => {
    const { running, url, producer, prefix } = await agentWith({ delayMs: 5_000 });
    await producer.enqueue({ id: "long-1", type: "code-generation", input: { prompt: "q" } });
    await waitUntil(async () => (await producer.getTask("long-1"))?.status === "running");
    const sync = execute(url, { type: "code-generation", input: { prompt: "s" } });
    await sleep(50);

    // Released at the deadline, not finished: the drain did not wait for the 5 s task.
    const summary = await running.drain(300);
    expect(summary).toMatchObject({ timedOut: true, released: 1 });
    const answer = await sync;
    expect(answer.status).toBe(503);
    expect(await producer.redis.zcard(`${prefix}:{python}:leases`)).toBe(0);
    expect(await producer.redis.zscore(`${prefix}:{python}:ready`, "long-1")).not.toBeNull();
    expect((await producer.getTask("long-1"))?.status).toBe("queued");
    await producer.close();
  });
});

describe("executor failures on the queue path", () => {
  it("fails a task for good on a 401 and retries a 503", async () => {
    const llm = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const unauthorized = req.headers.authorization === "Bearer bad-key";
        res.writeHead(unauthorized ? 401 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: unauthorized ? "invalid api key" : "overloaded" } }));
      });
    });
    llm.listen(0, "127.0.0.1");
    await once(llm, "listening");
    const baseUrl = `http://127.0.0.1:${(llm.address() as AddressInfo).port}/v1`;
    const settings = (apiKey: string): ExecutorSettings => ({
      ...echoSettings("python"),
      kind: "openai",
      model: "m",
      baseUrl,
      apiKey,
      retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 },
    });
    try {
      const bad = await agentWith({ settings: settings("bad-key") });
      await bad.producer.enqueue({ id: "auth-1", type: "code-generation", input: { prompt: "x" } });
      const failed = await waitUntil(async () => {
        const task = await bad.producer.getTask("auth-1");
        return task?.status === "failed" ? task : undefined;
      });
      expect(failed.deliveries).toBe(1);
      expect(failed.error).toMatch(/answered 401: invalid api key; check LLM_API_KEY/);

      const flaky = await agentWith({ settings: settings("good-key") });
      await flaky.producer.enqueue({ id: "busy-1", type: "code-generation", input: { prompt: "x" } });
      const retrying = await waitUntil(async () => {
        const task = await flaky.producer.getTask("busy-1");
        return task?.status === "retrying" ? task : undefined;
      });
      expect(retrying.error).toMatch(/answered 503: overloaded/);
      await bad.producer.close();
      await flaky.producer.close();
    } finally {
      llm.closeAllConnections();
      llm.close();
    }
  });
});
