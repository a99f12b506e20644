/** Agent profiles under images/agents/ and the executor environment: defaults, overrides, errors. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AGENT_TYPES } from "../../agent-runtime/src/catalog";
import { ExecutorConfigError, resolveExecutorSettings } from "../../agent-runtime/src/executors";
import { backoffMs, parseRetryAfter } from "../../agent-runtime/src/executors/http";
import { EnvError } from "../../agent-runtime/src/lib/env";

const tmp = mkdtempSync(path.join(tmpdir(), "agent-profile-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function profileDir(name: string, json: unknown, prompt = "Be useful."): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "agent.json"), typeof json === "string" ? json : JSON.stringify(json));
  writeFileSync(path.join(dir, "system-prompt.md"), prompt);
  return dir;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ExecutorConfigError);
    return (error as Error).message;
  }
  throw new Error("expected an ExecutorConfigError");
}

describe("agent profiles shipped in images/agents", () => {
  it.each(AGENT_TYPES)("%s has a valid profile and a system prompt", (agent) => {
    const env = { ANTHROPIC_API_KEY: "k" };
    const s = resolveExecutorSettings(agent, env);
    expect(s.configDir).toBe(path.resolve(__dirname, "../../images/agents", agent));
    expect(s.systemPrompt.length).toBeGreaterThan(100);
    expect(["openai", "anthropic"]).toContain(s.kind);
  });

  it("points the model-backed agents at the local OpenAI-compatible sidecar", () => {
    for (const agent of ["python", "ml"] as const) {
      const s = resolveExecutorSettings(agent, {});
      expect(s).toMatchObject({ kind: "openai", baseUrl: "http://127.0.0.1:8081/v1", apiKey: undefined });
    }
  });
});

describe("executor environment", () => {
  it("lets the environment override the profile", () => {
    const s = resolveExecutorSettings("python", {
      EXECUTOR: "openai",
      LLM_BASE_URL: "https://llm.example.com/v1/",
      LLM_MODEL: "big",
      LLM_API_KEY: "sk",
      LLM_TEMPERATURE: "0.9",
      LLM_MAX_TOKENS: "100",
      LLM_TIMEOUT_MS: "2500",
      LLM_MAX_RETRIES: "0",
    });
    expect(s).toMatchObject({
      baseUrl: "https://llm.example.com/v1",
      model: "big",
      apiKey: "sk",
      temperature: 0.9,
      maxTokens: 100,
      timeoutMs: 2500,
      retry: { maxRetries: 0 },
    });
  });

  it("uses the API-specific key when LLM_API_KEY is unset, and empty strings count as unset", () => {
    const s = resolveExecutorSettings("reviewer", {
      LLM_API_KEY: "",
      ANTHROPIC_API_KEY: "ak",
      OPENAI_API_KEY: "ok",
    });
    expect(s).toMatchObject({ kind: "anthropic", apiKey: "ak", baseUrl: "https://api.anthropic.com" });
  });

  it("needs a key for Anthropic and says which variables", () => {
    expect(configError(() => resolveExecutorSettings("reviewer", {}))).toBe(
      "the reviewer agent uses the anthropic executor but neither LLM_API_KEY nor ANTHROPIC_API_KEY is set",
    );
  });

  it("EXECUTOR=echo needs nothing else", () => {
    expect(resolveExecutorSettings("reviewer", { EXECUTOR: "echo", ECHO_DELAY_MS: "5" })).toMatchObject({
      kind: "echo",
      model: "echo",
      echoDelayMs: 5,
    });
  });

  it("names every bad variable and its value, hiding keys", () => {
    let message = "";
    try {
      resolveExecutorSettings("python", {
        EXECUTOR: "gpt",
        LLM_TIMEOUT_MS: "soon",
        LLM_BASE_URL: "ftp://x",
        LLM_API_KEY: "sk-secret",
        LLM_TEMPERATURE: "hot",
      });
    } catch (error) {
      expect(error).toBeInstanceOf(EnvError);
      expect((error as EnvError).variables).toEqual([
        "EXECUTOR",
        "LLM_BASE_URL",
        "LLM_TEMPERATURE",
        "LLM_TIMEOUT_MS",
      ]);
      message = (error as Error).message;
    }
    expect(message).not.toContain("sk-secret");
    expect(message).toMatch(/^invalid executor environment:/);
    expect(message).toContain('EXECUTOR="gpt"');
    expect(message).toContain('LLM_TIMEOUT_MS="soon"');
    expect(message).toContain('LLM_BASE_URL="ftp://x"');
  });

  it("asks for LLM_MODEL when EXECUTOR switches API away from the profile's", () => {
    expect(
      configError(() => resolveExecutorSettings("python", { EXECUTOR: "anthropic", LLM_API_KEY: "k" })),
    ).toMatch(/EXECUTOR=anthropic but .*python\/agent\.json describes a openai model; set LLM_MODEL/);
  });

  it("names the profile file and field when agent.json is wrong", () => {
    const dir = profileDir("bad", {
      executor: "openai",
      model: "m",
      temperature: 7,
      maxTokens: 10,
      extra: 1,
    });
    const message = configError(() => resolveExecutorSettings("python", { AGENT_CONFIG_DIR: dir }));
    expect(message).toContain(`${dir}/agent.json is not a valid agent profile`);
    expect(message).toContain("temperature:");
    expect(message).toContain("extra");
  });

  it("reports unreadable and unparseable profiles with the path", () => {
    expect(
      configError(() => resolveExecutorSettings("python", { AGENT_CONFIG_DIR: path.join(tmp, "nope") })),
    ).toMatch(/cannot read .*nope\/agent\.json; set AGENT_CONFIG_DIR/);
    const dir = profileDir("broken", "{not json");
    expect(configError(() => resolveExecutorSettings("python", { AGENT_CONFIG_DIR: dir }))).toContain(
      `${dir}/agent.json is not valid JSON`,
    );
    const empty = profileDir("empty", { executor: "echo", model: "m", temperature: 0, maxTokens: 1 }, "  \n");
    expect(configError(() => resolveExecutorSettings("python", { AGENT_CONFIG_DIR: empty }))).toContain(
      "system-prompt.md is empty",
    );
  });
});

describe("retry timing", () => {
  it("reads retry-after-ms, delta-seconds and HTTP dates", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    const h = (init: Record<string, string>) => new Headers(init);
    expect(parseRetryAfter(h({ "retry-after-ms": "250" }), now)).toBe(250);
    expect(parseRetryAfter(h({ "retry-after": "3" }), now)).toBe(3000);
    expect(parseRetryAfter(h({ "retry-after": "Wed, 01 Jan 2025 00:00:05 GMT" }), now)).toBe(5000);
    expect(parseRetryAfter(h({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(parseRetryAfter(h({}), now)).toBeUndefined();
  });

  it("doubles per attempt, jitters within the upper half and caps", () => {
    const policy = { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(policy, n, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(policy, n, () => 1))).toEqual([100, 200, 400, 800, 1000]);
  });
});
