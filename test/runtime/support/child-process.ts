/**
 * Test harness: TypeScript scripts run as real child processes (node --import tsx), so tests can
 * SIGKILL or SIGTERM them. A child reports what it does as JSON lines on stdout; tests wait on
 * those events.
 *
 *   const child = spawnScript(WORKER_FIXTURE, { env: { REDIS_URL: redis.url, AGENT_TYPE: "python" } });
 *   await child.waitForEvent((e) => e.event === "ready");
 *   child.kill("SIGKILL"); await child.exited;
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { waitUntil } from "./wait";

export type ChildEvent = Record<string, unknown> & { event?: string };

export interface SpawnScriptOptions {
  /** Added to a copy of process.env. */
  env?: Record<string, string | undefined>;
  args?: string[];
  /** Echo the child's stderr to ours (default: only on FLEET_TEST_VERBOSE=1). */
  echoStderr?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

/** The repository root (test/runtime/support → ../../..). */
export const REPO_ROOT = path.resolve(__dirname, "../../..");

export class ScriptProcess {
  readonly child: ChildProcess;
  /** Every JSON line the child printed, in order. */
  readonly events: ChildEvent[] = [];
  /** Lines that were not JSON, and stderr. */
  readonly output: string[] = [];
  readonly exited: Promise<ExitInfo>;
  private buffer = "";

  constructor(child: ChildProcess, echoStderr: boolean) {
    this.child = child;
    liveChildren.add(child);
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        liveChildren.delete(child);
        resolve({ code, signal });
      }),
    );
    child.stdout?.on("data", (chunk: Buffer) => this.onStdout(chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      this.output.push(text);
      if (echoStderr) process.stderr.write(text);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private onStdout(text: string): void {
    this.buffer += text;
    let newline = this.buffer.indexOf("\n");
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line.length > 0) this.onLine(line);
      newline = this.buffer.indexOf("\n");
    }
  }

  private onLine(line: string): void {
    if (line.startsWith("{")) {
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
          this.events.push(parsed as ChildEvent);
          return;
        }
      } catch {
        // not JSON after all: keep it as output
      }
    }
    this.output.push(line);
  }

  /** Resolves with the first event (past or future) matching `match`. */
  async waitForEvent(match: (event: ChildEvent) => boolean, timeoutMs = 15_000): Promise<ChildEvent> {
    return waitUntil(
      () => {
        const found = this.events.find(match);
        if (found) return found;
        if (!this.running) {
          throw new Error(`child ${this.pid} exited; output:\n${this.output.join("").slice(-2000)}`);
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 10, message: `an event from child ${this.pid}` },
    );
  }

  /** Sends a signal (no-op once the child is gone). */
  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL and wait for the exit. */
  async kill9(): Promise<ExitInfo> {
    this.kill("SIGKILL");
    return this.exited;
  }

  /** `signal` (its graceful stop), then SIGKILL if it has not exited within `graceMs`. */
  async stop(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    if (!this.running) return;
    this.kill(signal);
    const exited = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs)),
    ]);
    if (!exited) await this.kill9();
  }
}

/** Runs a .ts file with `node --import tsx` (the same Node as the test runner). */
export function spawnScript(scriptPath: string, options: SpawnScriptOptions = {}): ScriptProcess {
  const child = spawn(process.execPath, ["--import", "tsx", scriptPath, ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new ScriptProcess(child, options.echoStderr ?? process.env.FLEET_TEST_VERBOSE === "1");
}

/** The worker fixture (support/fixtures/worker.ts). */
export const WORKER_FIXTURE = path.join(__dirname, "fixtures", "worker.ts");

export interface WorkerFixtureOptions {
  redisUrl: string;
  agent: string;
  concurrency?: number;
  leaseMs?: number;
  maxDeliveries?: number;
  drainTimeoutSeconds?: number;
  prefix?: string;
  /** Any other worker variables (RETRY_BASE_MS, REAP_INTERVAL_MS, ...). */
  env?: Record<string, string>;
}

/** Starts a worker child process and waits for its "ready" event. */
export async function startWorkerProcess(options: WorkerFixtureOptions): Promise<ScriptProcess> {
  const child = spawnScript(WORKER_FIXTURE, {
    env: {
      REDIS_URL: options.redisUrl,
      AGENT_TYPE: options.agent,
      CONCURRENCY: String(options.concurrency ?? 4),
      LEASE_MS: String(options.leaseMs ?? 30_000),
      MAX_DELIVERIES: String(options.maxDeliveries ?? 5),
      DRAIN_TIMEOUT_SECONDS: String(options.drainTimeoutSeconds ?? 10),
      QUEUE_PREFIX: options.prefix ?? "fleet",
      LOG_LEVEL: process.env.FLEET_TEST_VERBOSE === "1" ? "info" : "error",
      ...options.env,
    },
  });
  await child.waitForEvent((e) => e.event === "ready" || e.event === "fatal", 30_000);
  const fatal = child.events.find((e) => e.event === "fatal");
  if (fatal) throw new Error(`worker fixture failed to start: ${String(fatal.message)}`);
  return child;
}
