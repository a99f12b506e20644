/**
 * The OpenAI and Anthropic clients against local fake servers that speak those APIs: success,
 * 429 with Retry-After then success, 5xx retries exhausted, timeouts, malformed answers.
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createExecutor, ExecutorError, type ExecutorSettings } from "../../agent-runtime/src/executors";
import type { ExecutorObserver, TokenUsage } from "../../agent-runtime/src/executors/types";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  at: number;
}

type Reply = { status: number; headers?: Record<string, string>; body: unknown } | "hang";

/** A server answering each request with the next scripted reply (the last one repeats). */
class FakeApi {
  readonly seen: Seen[] = [];
  private readonly server: http.Server;

  constructor(private readonly replies: Reply[]) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        this.seen.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: text ? JSON.parse(text) : undefined,
          at: performance.now(),
        });
        const reply = this.replies[Math.min(this.seen.length - 1, this.replies.length - 1)]!;
        if (reply === "hang") return;
        const payload = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
        res.end(payload);
      });
    });
  }

  async start(): Promise<string> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const servers: FakeApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function fake(...replies: Reply[]): Promise<{ api: FakeApi; url: string }> {
  const api = new FakeApi(replies);
  servers.push(api);
  return { api, url: await api.start() };
}

class RecordingObserver implements ExecutorObserver {
  readonly events: string[] = [];
  readonly usage: TokenUsage[] = [];
  inference(model: string, seconds: number) {
    this.events.push(`inference ${model} ${seconds >= 0 ? "ok" : "negative"}`);
  }
  tokens(_model: string, usage: TokenUsage) {
    this.usage.push(usage);
  }
  request(model: string, outcome: string) {
    this.events.push(`request ${model} ${outcome}`);
  }
  retry(model: string, reason: string) {
    this.events.push(`retry ${model} ${reason}`);
  }
}

function settings(overrides: Partial<ExecutorSettings>): ExecutorSettings {
  return {
    agent: "python",
    kind: "openai",
    model: "test-model",
    baseUrl: "http://127.0.0.1:9",
    apiKey: "sk-test",
    temperature: 0.3,
    maxTokens: 256,
    timeoutMs: 5_000,
    retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 2_000 },
    systemPrompt: "You are a test agent.",
    configDir: "/nonexistent",
    echoDelayMs: 0,
    ...overrides,
  };
}

const task = {
  id: "t-1",
  type: "code-generation",
  agent: "python" as const,
  input: { prompt: "write hello" },
};

const openAIOk = {
  id: "chatcmpl-1",
  object: "chat.completion",
  model: "test-model-2025",
  choices: [{ index: 0, message: { role: "assistant", content: "print('hello')" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 21, completion_tokens: 7, total_tokens: 28 },
};

const anthropicOk = {
  id: "msg_1",
  type: "message",
  role: "assistant",
  model: "claude-test",
  content: [
    { type: "text", text: "Hello " },
    { type: "text", text: "world" },
  ],
  stop_reason: "end_turn",
  usage: { input_tokens: 30, output_tokens: 4 },
};

async function failure(promise: Promise<unknown>): Promise<ExecutorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExecutorError);
  return error as ExecutorError;
}

describe("OpenAI-compatible executor", () => {
  it("sends the system prompt, the task and the model parameters, and returns text and usage", async () => {
    const { api, url } = await fake({ status: 200, body: openAIOk });
    const observer = new RecordingObserver();
    const executor = createExecutor(settings({ baseUrl: `${url}/v1` }), observer);

    const result = await executor.execute(task);

    expect(result).toEqual({
      output: "print('hello')",
      executor: "openai",
      model: "test-model-2025",
      usage: { inputTokens: 21, outputTokens: 7 },
      finishReason: "stop",
    });
    expect(api.seen).toHaveLength(1);
    const [req] = api.seen;
    expect(req!.method).toBe("POST");
    expect(req!.url).toBe("/v1/chat/completions");
    expect(req!.headers.authorization).toBe("Bearer sk-test");
    expect(req!.body).toEqual({
      model: "test-model",
      messages: [
        { role: "system", content: "You are a test agent." },
        { role: "user", content: "Task type: code-generation\n\nwrite hello" },
      ],
      temperature: 0.3,
      max_tokens: 256,
      stream: false,
    });
    expect(observer.events).toEqual(["request test-model ok", "inference test-model ok"]);
    expect(observer.usage).toEqual([{ inputTokens: 21, outputTokens: 7 }]);
  });

  it("sends no Authorization header to a keyless local server and tolerates a missing usage block", async () => {
    const { api, url } = await fake({ status: 200, body: { ...openAIOk, usage: undefined } });
    const result = await createExecutor(settings({ baseUrl: url, apiKey: undefined })).execute(task);
    expect(api.seen[0]!.headers.authorization).toBeUndefined();
    expect(result.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
  });

  it("waits as long as retry-after-ms asks after a 429, then succeeds", async () => {
    const { api, url } = await fake(
      { status: 429, headers: { "retry-after-ms": "150" }, body: { error: { message: "slow down" } } },
      { status: 200, body: openAIOk },
    );
    const observer = new RecordingObserver();
    const result = await createExecutor(settings({ baseUrl: url }), observer).execute(task);
    expect(result.output).toBe("print('hello')");
    expect(api.seen).toHaveLength(2);
    expect(api.seen[1]!.at - api.seen[0]!.at).toBeGreaterThanOrEqual(140);
    expect(observer.events).toContain("retry test-model rate_limited");
  });

  it("gives up after the configured retries on 5xx, saying how many attempts it made", async () => {
    const { api, url } = await fake({ status: 503, body: { error: { message: "overloaded" } } });
    const observer = new RecordingObserver();
    const retry = { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20 };
    const error = await failure(createExecutor(settings({ baseUrl: url, retry }), observer).execute(task));
    expect(api.seen).toHaveLength(3);
    expect(error).toMatchObject({ kind: "http", status: 503, retryable: true, attempts: 3 });
    expect(error.message).toContain("answered 503: overloaded (gave up after 3 attempt(s))");
    expect(observer.events.filter((e) => e.startsWith("retry"))).toHaveLength(2);
    expect(observer.events).toContain("request test-model http");
  });

  it("does not retry a 400 and marks it permanent", async () => {
    const { api, url } = await fake({ status: 400, body: { error: { message: "max_tokens too large" } } });
    const error = await failure(createExecutor(settings({ baseUrl: url })).execute(task));
    expect(api.seen).toHaveLength(1);
    expect(error).toMatchObject({ kind: "http", status: 400, retryable: false, attempts: 1 });
    expect(error.message).toContain("max_tokens too large");
  });

  it("points at the key variables on 401", async () => {
    const { url } = await fake({ status: 401, body: { error: { message: "invalid api key" } } });
    const error = await failure(createExecutor(settings({ baseUrl: url })).execute(task));
    expect(error.message).toMatch(/invalid api key; check LLM_API_KEY \(or OPENAI_API_KEY/);
  });

  it("times out a request that never answers, without retrying it", async () => {
    const { api, url } = await fake("hang");
    // The fake never answers: without the timeout this would never return.
    const error = await failure(createExecutor(settings({ baseUrl: url, timeoutMs: 150 })).execute(task));
    expect(error).toMatchObject({ kind: "timeout", retryable: true, attempts: 1 });
    expect(error.message).toContain("within 150 ms (LLM_TIMEOUT_MS)");
    expect(api.seen).toHaveLength(1);
  });

  it("stops at once when the caller aborts", async () => {
    const { url } = await fake("hang");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failure(createExecutor(settings({ baseUrl: url })).execute(task, controller.signal));
    expect(error.kind).toBe("aborted");
  });

  it("rejects a 200 whose body is not JSON", async () => {
    const { url } = await fake({ status: 200, body: "<html>gateway</html>" });
    const error = await failure(createExecutor(settings({ baseUrl: url })).execute(task));
    expect(error.kind).toBe("malformed_response");
    expect(error.message).toContain("not JSON: <html>gateway</html>");
  });

  it("rejects a 200 JSON body that is not a chat completion, naming the field", async () => {
    const { url } = await fake({ status: 200, body: { choices: [] } });
    const observer = new RecordingObserver();
    const error = await failure(createExecutor(settings({ baseUrl: url }), observer).execute(task));
    expect(error.kind).toBe("malformed_response");
    expect(error.message).toMatch(/not as the openai API: choices: expected at least one choice/);
    expect(observer.events).toEqual(["request test-model malformed_response"]);
  });

  it("retries a refused connection, then reports the backend unreachable", async () => {
    const { url } = await fake({ status: 200, body: openAIOk });
    await servers.pop()!.stop();
    const retry = { maxRetries: 1, baseDelayMs: 5, maxDelayMs: 10 };
    const error = await failure(createExecutor(settings({ baseUrl: url, retry })).execute(task));
    expect(error).toMatchObject({ kind: "network", attempts: 2 });
    expect(error.message).toContain("is the LLM backend (LLM_BASE_URL) up?");
  });
});

describe("Anthropic Messages executor", () => {
  const anthropic = (url: string, extra: Partial<ExecutorSettings> = {}) =>
    settings({ kind: "anthropic", baseUrl: url, model: "claude-x", apiKey: "ak-test", ...extra });

  it("speaks the Messages API and joins the text blocks", async () => {
    const { api, url } = await fake({ status: 200, body: anthropicOk });
    const result = await createExecutor(anthropic(url)).execute({ ...task, input: "review this" });
    expect(result).toEqual({
      output: "Hello world",
      executor: "anthropic",
      model: "claude-test",
      usage: { inputTokens: 30, outputTokens: 4 },
      finishReason: "end_turn",
    });
    const [req] = api.seen;
    expect(req!.url).toBe("/v1/messages");
    expect(req!.headers["x-api-key"]).toBe("ak-test");
    expect(req!.headers["anthropic-version"]).toBe("2023-06-01");
    expect(req!.headers.authorization).toBeUndefined();
    expect(req!.body).toEqual({
      model: "claude-x",
      system: "You are a test agent.",
      messages: [{ role: "user", content: "Task type: code-generation\n\nreview this" }],
      temperature: 0.3,
      max_tokens: 256,
    });
  });

  it("honours Retry-After in seconds after a 429, then succeeds", async () => {
    const { api, url } = await fake(
      { status: 429, headers: { "retry-after": "1" }, body: { type: "error", error: { message: "rate" } } },
      { status: 200, body: anthropicOk },
    );
    const result = await createExecutor(anthropic(url)).execute(task);
    expect(result.output).toBe("Hello world");
    expect(api.seen[1]!.at - api.seen[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("fails fast when Retry-After is longer than the backoff cap, keeping the hint", async () => {
    const { api, url } = await fake({
      status: 429,
      headers: { "retry-after": "120" },
      body: { error: "busy" },
    });
    const error = await failure(createExecutor(anthropic(url)).execute(task));
    expect(api.seen).toHaveLength(1);
    expect(error).toMatchObject({
      kind: "rate_limited",
      retryable: true,
      retryAfterMs: 120_000,
      status: 429,
    });
  });

  it("retries 529 overloaded until the retries run out", async () => {
    const { api, url } = await fake({
      status: 529,
      body: { type: "error", error: { message: "Overloaded" } },
    });
    const retry = { maxRetries: 1, baseDelayMs: 5, maxDelayMs: 10 };
    const error = await failure(createExecutor(anthropic(url, { retry })).execute(task));
    expect(api.seen).toHaveLength(2);
    expect(error).toMatchObject({ kind: "http", status: 529, attempts: 2 });
  });

  it("rejects a message without usage", async () => {
    const { url } = await fake({ status: 200, body: { ...anthropicOk, usage: undefined } });
    const error = await failure(createExecutor(anthropic(url)).execute(task));
    expect(error.kind).toBe("malformed_response");
    expect(error.message).toContain("usage");
  });
});

describe("echo executor", () => {
  it("answers with the prompt an LLM would have seen", async () => {
    const observer = new RecordingObserver();
    const result = await createExecutor(settings({ kind: "echo", model: "echo" }), observer).execute({
      ...task,
      input: { prompt: "hi", files: ["a.py"] },
    });
    expect(result.output).toBe(
      'Task type: code-generation\n\nhi\n\nContext:\n```json\n{\n  "files": [\n    "a.py"\n  ]\n}\n```',
    );
    expect(result).toMatchObject({
      executor: "echo",
      model: "echo",
      usage: { inputTokens: 0, outputTokens: 0 },
    });
    expect(observer.events).toEqual(["request echo ok", "inference echo ok"]);
  });

  it("rejects an empty input as permanent", async () => {
    const error = await failure(
      createExecutor(settings({ kind: "echo" })).execute({ ...task, input: { prompt: " " } }),
    );
    expect(error).toMatchObject({ kind: "bad_input", retryable: false });
  });
});
