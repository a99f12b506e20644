/**
 * The real `agent-fleet` CLI, spawned as users run it (node agent-runtime/bin/agent-fleet.js):
 * `dev` starts a private Redis, the router and 12 echo workers; a submitted task completes;
 * SIGINT drains and stops everything, leaving no redis-server behind (nor after a SIGKILL).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, ScriptProcess, startRedis, uniquePrefix, waitUntil, type RedisServer } from "./support";

const BIN = path.join(REPO_ROOT, "agent-runtime", "bin", "agent-fleet.js");

/** Where `dev` records its fleet for other commands: this file's own, not the user's. */
const STATE_DIR = mkdtempSync(path.join(tmpdir(), "agent-fleet-state-"));
afterAll(() => rmSync(STATE_DIR, { recursive: true, force: true }));

/** The parent's environment without anything that would change what the CLI connects to. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (
      /^(REDIS_|ROUTER_|LLM_|EXECUTOR$|PORT$|AGENT_TYPE$|QUEUE_PREFIX$|OPENAI_|ANTHROPIC_|LOG_LEVEL$|AGENT_FLEET_|XDG_STATE_HOME$)/.test(
        key,
      )
    ) {
      delete env[key];
    }
  }
  return { ...env, AGENT_FLEET_STATE_DIR: STATE_DIR, ...extra };
}

function cli(args: string[], env: Record<string, string> = {}): ScriptProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new ScriptProcess(child, process.env.FLEET_TEST_VERBOSE === "1");
}

/** Runs a short command to its end. */
async function run(args: string[], env: Record<string, string> = {}) {
  const child = cli(args, env);
  const exit = await child.exited;
  return { code: exit.code, stdout: child.output.join("\n"), events: child.events };
}

async function waitForLine(
  child: ScriptProcess,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<RegExpExecArray> {
  return waitUntil(
    () => {
      const match = pattern.exec(child.output.join("\n"));
      if (match) return match;
      if (!child.running) throw new Error(`the CLI exited early:\n${child.output.join("\n")}`);
      return undefined;
    },
    { timeoutMs, intervalMs: 20, message: `${pattern} from the CLI` },
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const children: ScriptProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) await child.kill9();
});

describe("agent-fleet dev", () => {
  it("starts the local fleet, runs a submitted task, and stops everything on Ctrl-C", async () => {
    const dev = cli(["dev", "--port", "0"]);
    children.push(dev);
    const [, routerUrl] = await waitForLine(dev, /router {2}(http:\/\/127\.0\.0\.1:\d+)/);
    const [, redisUrl, redisPid, redisDir] = await waitForLine(
      dev,
      /redis {3}(redis:\/\/127\.0\.0\.1:\d+) {2}\(private redis-server pid (\d+) in (\S+);/,
    );
    expect(dev.output.join("\n")).toContain("agents  12 workers: echo executor");
    const env = { ROUTER_URL: routerUrl! };

    const submitted = await run(
      ["submit", "--type", "code-review", "--prompt", "review this", "--wait", "--timeout", "20"],
      env,
    );
    expect(submitted.code).toBe(0);
    const task = JSON.parse(submitted.stdout) as {
      id: string;
      agent: string;
      status: string;
      result: { output: string };
    };
    expect(task).toMatchObject({ agent: "reviewer", status: "succeeded" });
    expect(task.result.output).toBe("Task type: code-review\n\nreview this");

    const status = await run(["status", task.id], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: task.id, status: "succeeded" });
    const queues = await run(["queues"], env);
    expect(queues.code).toBe(0);
    expect(queues.stdout).toMatch(/^agent\s+P0\s+P1\s+P2\s+P3\s+in-flight\s+delayed\s+dead\s+oldest/);
    expect(queues.stdout).toMatch(/\nreviewer\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+-/);
    const dlq = await run(["dlq", "list", "--agent", "python"], { REDIS_URL: redisUrl! });
    expect(dlq).toMatchObject({ code: 0, stdout: "no dead-lettered python tasks" });
    // Without REDIS_URL and ROUTER_URL, commands find this dev fleet's Redis and router.
    expect(dev.output.join("\n")).toContain(`elsewhere: ROUTER_URL=${routerUrl!} REDIS_URL=${redisUrl!}`);
    const found = await run(["dlq", "list", "--agent", "python"]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(`using the Redis of agent-fleet dev (pid ${dev.pid!}): ${redisUrl!}`);
    expect(found.stdout).toContain("no dead-lettered python tasks");
    expect((await run(["queues"])).stdout).toMatch(/\nreviewer\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+-/);
    const unknown = await run(["submit", "--type", "make-coffee", "--input", "{}"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/400: invalid task\n\s+type: unknown task type "make-coffee"/);

    dev.kill("SIGINT");
    const exit = await dev.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(dev.output.join("\n")).toContain("agent-fleet dev stopped");
    expect(alive(Number(redisPid))).toBe(false);
    expect(existsSync(redisDir!)).toBe(false);
    expect(existsSync(path.join(STATE_DIR, "dev.json"))).toBe(false);
  });

  it("takes its private redis-server down with it even when SIGKILLed", async () => {
    const dev = cli(["dev", "--port", "0"]);
    children.push(dev);
    const [, redisPid, dir] = await waitForLine(dev, /private redis-server pid (\d+) in (\S+);/);
    expect(alive(Number(redisPid))).toBe(true);
    expect(existsSync(dir!)).toBe(true);
    await dev.kill9();
    await waitUntil(() => !alive(Number(redisPid)) && !existsSync(dir!), {
      timeoutMs: 5_000,
      message: "redis-server to exit and its folder to go",
    });
  });
});

describe("agent-fleet dev with an LLM endpoint", () => {
  it("uses the OpenAI-compatible server at LLM_BASE_URL instead of echo", async () => {
    const seen: unknown[] = [];
    const llm = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        seen.push({ url: req.url, body: JSON.parse(body) as unknown });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            model: "fake-llm",
            choices: [{ message: { role: "assistant", content: "LGTM" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 12, completion_tokens: 1 },
          }),
        );
      });
    });
    llm.listen(0, "127.0.0.1");
    await once(llm, "listening");
    try {
      const baseUrl = `http://127.0.0.1:${(llm.address() as AddressInfo).port}/v1`;
      const dev = cli(["dev", "--port", "0"], { LLM_BASE_URL: baseUrl, LLM_MODEL: "fake-llm" });
      children.push(dev);
      const [, routerUrl] = await waitForLine(dev, /router {2}(http:\/\/127\.0\.0\.1:\d+)/);
      expect(dev.output.join("\n")).toContain(`agents  12 workers: openai (12) → fake-llm @ ${baseUrl}`);
      const submitted = await run(["submit", "--type", "code-review", "--prompt", "check it", "--wait"], {
        ROUTER_URL: routerUrl!,
      });
      expect(submitted.code).toBe(0);
      expect(JSON.parse(submitted.stdout)).toMatchObject({
        agent: "reviewer",
        result: {
          output: "LGTM",
          executor: "openai",
          model: "fake-llm",
          usage: { inputTokens: 12, outputTokens: 1 },
        },
      });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ url: "/v1/chat/completions", body: { model: "fake-llm" } });
      dev.kill("SIGINT");
      expect((await dev.exited).code).toBe(0);
    } finally {
      llm.closeAllConnections();
      llm.close();
    }
  });
});

describe("agent-fleet worker and router", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ appendonly: false });
  });
  afterAll(async () => redis?.destroy());

  it("runs an agent process that serves its probes and drains on SIGTERM", async () => {
    const worker = cli(["worker", "--agent", "python"], {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix("cli"),
      PORT: "0",
      EXECUTOR: "echo",
      LOG_LEVEL: "info",
    });
    children.push(worker);
    const ready = await waitUntil(() => worker.events.find((e) => e.msg === "agent ready"), {
      timeoutMs: 30_000,
    });
    expect(ready).toMatchObject({ agent: "python", executor: "echo", level: "info" });
    const base = `http://127.0.0.1:${String(ready.port)}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    worker.kill("SIGTERM");
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it("exits 2 at once naming a bad variable", async () => {
    const bad = await run(["worker", "--agent", "python"], { REDIS_URL: redis.url, CONCURRENCY: "lots" });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain('CONCURRENCY="lots": must be an integer from 1 to 1000');
    const router = await run(["router"], { REDIS_URL: redis.url });
    expect(router.code).toBe(2);
    expect(router.stdout).toContain(
      "ROUTER_AUTH=required but neither ROUTER_TOKENS_FILE nor ROUTER_TOKENS is set",
    );
  });

  it("prints usage errors with exit code 2", async () => {
    const result = await run(["dlq", "purge", "--agent", "python"], { REDIS_URL: redis.url });
    expect(result.code).toBe(2);
    expect(result.stdout).toContain("pass --yes to confirm");
    expect(existsSync(BIN)).toBe(true);
  });
});
