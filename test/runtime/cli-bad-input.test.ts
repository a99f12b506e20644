/**
 * Every mistake a user can make on the `agent-fleet` command line, as a table run through the
 * real process (node agent-runtime/bin/agent-fleet.js): each gets its exit code and a message
 * naming the flag and what is allowed, no stack trace, and nothing reaches the queue. Also: how
 * commands find the Redis and router of a running `agent-fleet dev`, and --version.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../agent-runtime/src/lib/log";
import { createMetrics } from "../../agent-runtime/src/lib/metrics";
import { loadRouterConfig } from "../../agent-runtime/src/router/config";
import { startRouter, type RunningRouter } from "../../agent-runtime/src/router/main";
import { keysUnder, REPO_ROOT, startRedis, uniquePrefix, type RedisServer } from "./support";

const BIN = path.join(REPO_ROOT, "agent-runtime", "bin", "agent-fleet.js");

let redis: RedisServer;
let router: RunningRouter;
let prefix: string;
let stateDir: string;

beforeAll(async () => {
  redis = await startRedis({ appendonly: false });
  prefix = uniquePrefix("clibad");
  stateDir = mkdtempSync(path.join(tmpdir(), "agent-fleet-state-"));
  router = await startRouter({
    config: loadRouterConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      ROUTER_AUTH: "disabled",
    }),
    logger: createLogger({}, "silent"),
    registry: createMetrics(new Registry(), { processMetrics: false }).registry,
    redisTimeoutMs: 300,
  });
});

afterAll(async () => {
  await router?.close();
  await redis?.destroy();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI to its end, with nothing from our environment that picks a router or Redis. */
function run(args: string[], env: Record<string, string> = {}, stdin = ""): Promise<Result> {
  const clean = { ...process.env };
  for (const key of Object.keys(clean)) {
    if (/^(REDIS_|ROUTER_|QUEUE_PREFIX$|AGENT_FLEET_|XDG_STATE_HOME$)/.test(key)) delete clean[key];
  }
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...clean, AGENT_FLEET_STATE_DIR: stateDir, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  child.stdin.end(stdin);
  return new Promise((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })),
  );
}

const STACK_TRACE = /^\s+at .+[:(]\d+/m;

interface Case {
  name: string;
  args: string[];
  env?: Record<string, string>;
  stdin?: string;
  code: number;
  /** What stderr says: the bad token or flag, and what is allowed. */
  message: RegExp;
  /** Commander's usage follows errors of the command line itself. */
  usage?: boolean;
}

const submit = (...args: string[]) => ["submit", "--type", "code-review", ...args];

const cases: Case[] = [
  // commands and flags the CLI does not know
  {
    name: "unknown command",
    args: ["frobnicate"],
    code: 2,
    message: /unknown command 'frobnicate'/,
    usage: true,
  },
  {
    name: "unknown global flag",
    args: ["--bogus", "queues"],
    code: 2,
    message: /unknown option '--bogus'/,
    usage: true,
  },
  {
    name: "unknown submit flag",
    args: submit("--prompt", "hi", "--colour", "red"),
    code: 2,
    message: /unknown option '--colour'/,
    usage: true,
  },
  {
    name: "submit without --type",
    args: ["submit", "--prompt", "hi"],
    code: 2,
    message: /required option '--type <type>' not specified/,
    usage: true,
  },
  {
    name: "flag without its value",
    args: submit("--prompt", "hi", "--priority"),
    code: 2,
    message: /option '--priority <p>' argument missing/,
    usage: true,
  },
  {
    name: "status without an id",
    args: ["status"],
    code: 2,
    message: /missing required argument 'id'/,
    usage: true,
  },
  {
    name: "status with two ids",
    args: ["status", "a", "b"],
    code: 2,
    message: /too many arguments for 'status'/,
    usage: true,
  },
  {
    name: "queues with an argument",
    args: ["queues", "now"],
    code: 2,
    message: /too many arguments for 'queues'/,
    usage: true,
  },
  {
    name: "unknown dlq action",
    args: ["dlq", "frob", "--agent", "python"],
    code: 2,
    message: /value 'frob' is invalid for argument 'action'\. Allowed choices are list, retry, purge/,
    usage: true,
  },
  {
    name: "dlq without --agent",
    args: ["dlq", "list"],
    code: 2,
    message: /required option '--agent <type>' not specified/,
    usage: true,
  },
  {
    name: "dlq with an unknown agent",
    args: ["dlq", "list", "--agent", "wizard"],
    code: 2,
    message: /argument 'wizard' is invalid\. Allowed choices are python, /,
    usage: true,
  },
  {
    name: "worker with an unknown agent",
    args: ["worker", "--agent", "wizard"],
    code: 2,
    message: /argument 'wizard' is invalid/,
    usage: true,
  },
  // --input and --prompt
  {
    name: "neither --input nor --prompt",
    args: submit(),
    code: 2,
    message: /give the task's input: --prompt <text> or --input <JSON object>/,
  },
  {
    name: "--input and --prompt together",
    args: submit("--input", "{}", "--prompt", "hi"),
    code: 2,
    message: /--input and --prompt together/,
  },
  {
    name: "--input that is broken JSON",
    args: submit("--input", "{bad json"),
    code: 2,
    message:
      /--input is not valid JSON \(.+\); it takes a JSON object such as '\{"prompt": "\.\.\."\}', @file or - \(stdin\); for plain text use --prompt/,
  },
  {
    name: "--input that is plain text",
    args: submit("--input", "review this"),
    code: 2,
    message: /--input is not valid JSON .*for plain text use --prompt/,
  },
  {
    name: "--input that is a number",
    args: submit("--input", "5"),
    code: 2,
    message: /--input must be a JSON object, got a number; .*for plain text use --prompt/,
  },
  {
    name: "--input that is an array",
    args: submit("--input", "[1]"),
    code: 2,
    message: /--input must be a JSON object, got an array/,
  },
  {
    name: "--input that is a JSON string",
    args: submit("--input", '"hi"'),
    code: 2,
    message: /--input must be a JSON object, got a string/,
  },
  {
    name: "--input null",
    args: submit("--input", "null"),
    code: 2,
    message: /--input must be a JSON object, got null/,
  },
  { name: "empty --input", args: submit("--input", " "), code: 2, message: /--input is empty/ },
  {
    name: "--input from a missing file",
    args: submit("--input", "@/nonexistent/task.json"),
    code: 2,
    message: /--input @\/nonexistent\/task\.json: cannot read \/nonexistent\/task\.json/,
  },
  {
    name: "--input - with an array on stdin",
    args: submit("--input", "-"),
    stdin: "[1, 2]",
    code: 2,
    message: /--input must be a JSON object, got an array/,
  },
  { name: "blank --prompt", args: submit("--prompt", "  "), code: 2, message: /--prompt is empty/ },
  {
    name: "bad --timeout is refused before submitting",
    args: submit("--prompt", "hi", "--wait", "--timeout", "soon"),
    code: 2,
    message: /--timeout must be a number of seconds > 0 \(got "soon"\)/,
  },
  // refused by the router: exit 1 with its reasons, nothing enqueued
  {
    name: "unknown task type",
    args: ["submit", "--type", "make-coffee", "--prompt", "hi"],
    code: 1,
    message: /400: invalid task\n\s+type: unknown task type "make-coffee"; known types: /,
  },
  {
    name: "input.prompt that is not a string",
    args: submit("--input", '{"prompt": 5}'),
    code: 1,
    message: /input\.prompt: must be a string/,
  },
  {
    name: "unknown priority",
    args: submit("--prompt", "hi", "--priority", "urgent"),
    code: 1,
    message: /priority: must be 0-3, P0-P3 or one of critical, high, normal, low \(got "urgent"\)/,
  },
  {
    name: "bad task id",
    args: submit("--prompt", "hi", "--id", "../x"),
    code: 1,
    message: /id: must be 1-128 characters/,
  },
  // where the CLI connects
  {
    name: "--router-url that is not a URL",
    args: ["--router-url", "notaurl", "queues"],
    code: 2,
    message: /--router-url "notaurl" is not an http:\/\/ or https:\/\/ URL/,
  },
  {
    name: "dlq with no Redis to read",
    args: ["dlq", "list", "--agent", "python"],
    env: { ROUTER_URL: "" },
    code: 2,
    message:
      /dlq: no Redis to read: no agent-fleet dev is running here and neither --redis-url nor REDIS_URL is set/,
  },
  {
    name: "dlq --redis-url that is not a Redis URL",
    args: ["dlq", "list", "--agent", "python", "--redis-url", "http://x"],
    code: 2,
    message: /--redis-url "http:\/\/x" is not a redis:\/\/ or rediss:\/\/ URL/,
  },
  {
    name: "dlq --limit 0",
    args: ["dlq", "list", "--agent", "python", "--limit", "0"],
    code: 2,
    message: /--limit must be a positive integer \(got "0"\)/,
  },
  {
    name: "dlq purge without --yes",
    args: ["dlq", "purge", "--agent", "python"],
    code: 2,
    message: /pass --yes to confirm/,
  },
  {
    name: "dev --port that is not a number",
    args: ["dev", "--port", "lots"],
    code: 2,
    message: /--port must be 0-65535 \(got "lots"\)/,
  },
];

describe("bad invocations", () => {
  it("covers at least 20 of them", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  // Concurrently (up to vitest's maxConcurrency): each case is a Node process loading the CLI.
  it.concurrent.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const result = await run(c.args, { ROUTER_URL: router.url, ...c.env }, c.stdin);
    const said = result.stderr + result.stdout;
    expect(result.code, said).toBe(c.code);
    expect(result.stderr).toMatch(c.message);
    if (c.usage) expect(result.stderr).toMatch(/Usage: agent-fleet/);
    expect(said).not.toMatch(STACK_TRACE);
  });

  it("enqueued nothing", async () => {
    expect(await keysUnder(router.queue.redis, prefix)).toEqual([]);
  });
});

describe("reaching Redis", () => {
  it("says in one line which Redis did not answer and what to do, within seconds", async () => {
    const result = await run(["dlq", "list", "--agent", "python", "--redis-url", "redis://127.0.0.1:1"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'agent-fleet: cannot reach Redis at redis://127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1); start "agent-fleet dev", or point --redis-url or REDIS_URL at the fleet\'s Redis\n',
    );
    expect(result.ms).toBeLessThan(8_000);
  });

  it("finds the Redis and router of a running agent-fleet dev, and ignores a dead one's record", async () => {
    const state = path.join(stateDir, "dev.json");
    const record = {
      routerUrl: router.url,
      redisUrl: redis.url,
      prefix,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(state, JSON.stringify({ ...record, pid: process.pid }));
    try {
      const dlq = await run(["dlq", "list", "--agent", "python"]);
      expect(dlq.code, dlq.stderr).toBe(0);
      expect(dlq.stdout).toBe("no dead-lettered python tasks\n");
      expect(dlq.stderr).toBe(
        `agent-fleet: using the Redis of agent-fleet dev (pid ${process.pid}): ${redis.url} (prefix "${prefix}")\n`,
      );
      const queues = await run(["queues", "--json"]);
      expect(queues.code, queues.stderr).toBe(0);
      expect(JSON.parse(queues.stdout)).toHaveLength(12);

      writeFileSync(state, JSON.stringify({ ...record, pid: 2 ** 22 + 1 })); // no such process
      const stale = await run(["dlq", "list", "--agent", "python"]);
      expect(stale.code).toBe(2);
      expect(stale.stderr).toMatch(/no agent-fleet dev is running here/);
    } finally {
      rmSync(state, { force: true });
    }
  });
});

describe("--version", () => {
  it("prints the runtime package's version", async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "agent-runtime", "package.json"), "utf8")) as {
      version: string;
    };
    const result = await run(["--version"]);
    expect(result).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });
});
