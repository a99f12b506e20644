/**
 * A pod is often stopped while it starts (a rollout replaced it, a node drains). The real
 * `agent-fleet worker` process must shut down through its drain from its first moments: a SIGTERM
 * sent as soon as it connects to Redis (the earliest it can claim work, and before its start has
 * finished) ends in a clean exit 0 with no lease left — not in death by the signal.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { queueKeys } from "../../agent-runtime/src/queue";
import {
  freePort,
  REPO_ROOT,
  ScriptProcess,
  startRedis,
  uniquePrefix,
  waitUntil,
  type RedisServer,
} from "./support";

const BIN = path.join(REPO_ROOT, "agent-runtime", "bin", "agent-fleet.js");

let server: RedisServer;
let raw: Redis;

beforeAll(async () => {
  server = await startRedis({ appendonly: false });
  raw = new Redis(server.url);
});

afterAll(async () => {
  raw.disconnect();
  await server.destroy();
});

async function clientCount(): Promise<number> {
  const list = await raw.client("LIST");
  return String(list)
    .split("\n")
    .filter((line) => line.trim() !== "").length;
}

it("a SIGTERM while the worker starts drains it: exit 0, no lease left", async () => {
  const prefix = uniquePrefix("early");
  const before = await clientCount(); // our own connection
  const child = spawn(process.execPath, [BIN, "worker", "--agent", "python"], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: server.url,
      QUEUE_PREFIX: prefix,
      EXECUTOR: "echo",
      PORT: String(await freePort()),
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const worker = new ScriptProcess(child, process.env.FLEET_TEST_VERBOSE === "1");

  const seen = await waitUntil(
    async () => (!worker.running ? "exited" : (await clientCount()) > before ? "connected" : undefined),
    { timeoutMs: 30_000, intervalMs: 1, message: "the worker to connect to Redis" },
  );
  expect(seen, worker.output.join("\n")).toBe("connected");
  child.kill("SIGTERM");
  const exit = await worker.exited;
  const log = worker.output.join("\n") + JSON.stringify(worker.events);
  expect(exit, log).toEqual({ code: 0, signal: null });
  expect(log).toContain("shutting down gracefully");
  expect(log).toContain("drained");
  expect(await raw.zcard(queueKeys("python", prefix).leases)).toBe(0);
}, 60_000);
