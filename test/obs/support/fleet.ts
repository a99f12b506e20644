/**
 * A local fleet for the observability suite: `agent-fleet dev` (router, 12 workers and a private
 * Redis in one process, spawned as users run it), with the openai executor pointed at the local
 * OpenAI-compatible fake (test/runtime/support/fake-llm.ts), so tasks succeed, fail for good or
 * dead-letter on demand. The only replaced part is the LLM API. Everything listens on 127.0.0.1
 * and is stopped by PID.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO_ROOT, ScriptProcess, waitUntil } from "../../runtime/support";

export { FAIL_HARD, FAIL_SOFT, startFakeLlm, type FakeLlm } from "../../runtime/support/fake-llm";

export interface DevFleet {
  routerUrl: string;
  process: ScriptProcess;
  /** SIGINT (the drain), then SIGKILL if it has not exited; removes its state folder. */
  stop(): Promise<void>;
}

/** `agent-fleet dev --port 0` with the given extra environment. */
export async function startDevFleet(env: Record<string, string>): Promise<DevFleet> {
  const stateDir = mkdtempSync(path.join(tmpdir(), "agent-fleet-obs-"));
  const base = { ...process.env };
  for (const key of Object.keys(base)) {
    if (/^(REDIS_|ROUTER_|LLM_|EXECUTOR$|PORT$|OPENAI_|ANTHROPIC_|OTEL_|AGENT_FLEET_)/.test(key))
      delete base[key];
  }
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, "agent-runtime", "bin", "agent-fleet.js"), "dev", "--port", "0"],
    {
      cwd: REPO_ROOT,
      env: { ...base, AGENT_FLEET_STATE_DIR: stateDir, LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const proc = new ScriptProcess(child, process.env.FLEET_TEST_VERBOSE === "1");
  const stop = async () => {
    await proc.stop("SIGINT", 30_000);
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    const match = await waitUntil(
      () => {
        const found = /router {2}(http:\/\/127\.0\.0\.1:\d+)/.exec(proc.output.join("\n"));
        if (found) return found;
        if (!proc.running) throw new Error(`agent-fleet dev exited early:\n${proc.output.join("\n")}`);
        return undefined;
      },
      { timeoutMs: 120_000, intervalMs: 50, message: "agent-fleet dev's router URL" },
    );
    return { routerUrl: match[1]!, process: proc, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** POST /v1/tasks; returns the task id. */
export async function submitTask(
  routerUrl: string,
  task: { type: string; prompt: string; priority?: number; maxDeliveries?: number },
): Promise<string> {
  const res = await fetch(`${routerUrl}/v1/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: task.type,
      input: { prompt: task.prompt },
      ...(task.priority !== undefined ? { priority: task.priority } : {}),
      ...(task.maxDeliveries !== undefined ? { maxDeliveries: task.maxDeliveries } : {}),
    }),
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 202 || !body.id)
    throw new Error(`submit answered ${res.status}: ${JSON.stringify(body)}`);
  return body.id;
}

/** Waits until the task has a final status (succeeded, failed or dead); returns it. */
export async function finalStatus(routerUrl: string, id: string): Promise<string> {
  return waitUntil(
    async () => {
      const res = await fetch(`${routerUrl}/v1/tasks/${encodeURIComponent(id)}`);
      if (res.status !== 200) return undefined;
      const record = (await res.json()) as { status?: string };
      return record.status && ["succeeded", "failed", "dead"].includes(record.status)
        ? record.status
        : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 200, message: `task ${id} to finish` },
  );
}
