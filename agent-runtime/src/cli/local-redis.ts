/**
 * A private redis-server for `agent-fleet dev`: a free loopback port, a temporary data folder,
 * no persistence. It runs under a tiny sh wrapper that reads its stdin until EOF and then stops
 * Redis: closing that pipe is the normal stop, and if this process dies — even by SIGKILL — the
 * kernel closes the pipe and Redis goes with it (and its folder) instead of lingering on the machine.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const WRAPPER = `
"$0" "$@" </dev/null &
pid=$!
echo "redis-pid $pid"
cat >/dev/null
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rm -rf "$AGENT_FLEET_REDIS_DIR"
`;

export class LocalRedisError extends Error {
  override readonly name = "LocalRedisError";
}

export interface LocalRedis {
  url: string;
  port: number;
  dir: string;
  /** The redis-server process id (not the wrapper's). */
  pid: number;
  stop(): Promise<void>;
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string {
  const binary = env.REDIS_SERVER_BIN ?? "redis-server";
  const probe = spawnSync(binary, ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new LocalRedisError(
      `${binary} not found; install Redis (Debian/Ubuntu: apt-get install redis-server), ` +
        "set REDIS_SERVER_BIN to its path, or set REDIS_URL to a Redis you run yourself",
    );
  }
  return binary;
}

export async function startLocalRedis(
  options: { binary?: string; startTimeoutMs?: number } = {},
): Promise<LocalRedis> {
  const binary = options.binary ?? findRedisServer();
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "agent-fleet-redis-"));
  const args = [
    ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no"],
    ...["--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"],
  ];
  // Its own process group: a terminal's Ctrl-C must not stop Redis while the workers still drain.
  const child = spawn("sh", ["-c", WRAPPER, binary, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
    env: { ...process.env, AGENT_FLEET_REDIS_DIR: dir },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => (output += chunk));

  try {
    const pid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new LocalRedisError(`redis-server did not start within ${options.startTimeoutMs ?? 10_000} ms`),
          ),
        options.startTimeoutMs ?? 10_000,
      );
      let buffered = "";
      child.stdout.on("data", (chunk: string) => {
        buffered += chunk;
        output += chunk;
        const match = /redis-pid (\d+)/.exec(buffered);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new LocalRedisError(`redis-server exited at start (code ${code}): ${output.trim()}`));
      });
    });
    await waitForPort(port, child, () => output, options.startTimeoutMs ?? 10_000);
    let stopping: Promise<void> | undefined;
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      dir,
      pid,
      stop: () =>
        (stopping ??= (async () => {
          child.stdin?.end();
          const timer = setTimeout(() => {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // already gone
            }
          }, 5_000);
          await exited;
          clearTimeout(timer);
          rmSync(dir, { recursive: true, force: true });
        })()),
    };
  } catch (error) {
    child.stdin?.end();
    child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Wait until Redis answers PING on the port (it accepts connections only once loaded). */
async function waitForPort(
  port: number,
  child: ChildProcess,
  output: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new LocalRedisError(`redis-server exited at start: ${output().trim()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      const done = (value: boolean) => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(500, () => done(false));
      socket.once("error", () => done(false));
      socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
      socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new LocalRedisError(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
}
