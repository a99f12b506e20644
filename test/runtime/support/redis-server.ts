/**
 * Test harness: a real redis-server per test file, on a free port in its own temp dir.
 *
 *   const redis = await startRedis({ appendfsync: "always" });
 *   redis.url            // redis://127.0.0.1:<port>/0
 *   await redis.kill9(); await redis.restart();   // crash + AOF replay, same port and dir
 *   await redis.destroy();                          // stop and remove the dir (idempotent)
 *
 * Never touches the Redis on 6379: every server gets an OS-assigned free port.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { waitUntil } from "./wait";

export type AppendFsync = "always" | "everysec" | "no";

export interface RedisServerOptions {
  /** AOF on (default true): what the fleet runs with. */
  appendonly?: boolean;
  /** AOF fsync policy (default "always", so an acknowledged write survives kill -9). */
  appendfsync?: AppendFsync;
  /** requirepass; clients then need it (tests of REDIS_PASSWORD). */
  password?: string;
  /** redis-server binary (default REDIS_SERVER_BIN or /usr/bin/redis-server). */
  binary?: string;
  /** Extra `--name value` arguments. */
  extraArgs?: string[];
}

const liveServers = new Set<RedisServer>();
process.once("exit", () => {
  for (const server of liveServers) server.killNow();
});

/** A free TCP port on 127.0.0.1 (the OS picks it; the tiny race before redis binds is acceptable). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the address of a probe socket"));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: "+PONG" or "-NOAUTH" (up), "-LOADING" (replaying AOF), or an error. */
export function pingRaw(port: number, timeoutMs = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to PING on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.includes("\r\n")) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply.trim());
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly options: Required<Omit<RedisServerOptions, "password">> & { password?: string };
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private destroyed = false;

  constructor(port: number, dir: string, options: RedisServerOptions) {
    this.port = port;
    this.dir = dir;
    this.options = {
      appendonly: options.appendonly ?? true,
      appendfsync: options.appendfsync ?? "always",
      binary: options.binary ?? process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server",
      extraArgs: options.extraArgs ?? [],
      ...(options.password === undefined ? {} : { password: options.password }),
    };
  }

  /** redis://[:password@]127.0.0.1:<port>/0 */
  get url(): string {
    const auth = this.options.password === undefined ? "" : `:${encodeURIComponent(this.options.password)}@`;
    return `redis://${auth}127.0.0.1:${this.port}/0`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private args(): string[] {
    const o = this.options;
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      o.appendonly ? "yes" : "no",
      "--appendfsync",
      o.appendfsync,
      "--daemonize",
      "no",
      "--protected-mode",
      "no",
      "--logfile",
      path.join(this.dir, "redis.log"),
      "--loglevel",
      "warning",
    ];
    if (o.password !== undefined) args.push("--requirepass", o.password);
    return [...args, ...o.extraArgs];
  }

  /** Starts the process (again) on the same port and dir and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.destroyed) throw new Error("this redis-server was destroyed");
    if (this.running) return;
    const child = spawn(this.options.binary, this.args(), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    liveServers.add(this);
    await waitUntil(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`redis-server exited during start-up: ${stderr.trim() || this.logTail()}`);
        }
        const reply = await pingRaw(this.port);
        return reply.startsWith("+PONG") || reply.startsWith("-NOAUTH");
      },
      { timeoutMs: 15_000, intervalMs: 20, message: `redis-server on port ${this.port} to answer PING` },
    );
  }

  /** SIGKILL: no shutdown hook, no final fsync — what a node crash looks like. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM: Redis flushes the AOF and exits cleanly. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child?.kill("SIGTERM");
    await this.exited;
  }

  /** Starts it again on the same port and dir: with AOF on, the data set is replayed. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the server and deletes its dir. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await this.stop().catch(() => this.killNow());
    this.destroyed = true;
    liveServers.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous SIGKILL for process-exit hooks. */
  killNow(): void {
    if (this.running) this.child?.kill("SIGKILL");
  }

  /** Last lines of redis.log, for failure messages. */
  logTail(lines = 20): string {
    const file = path.join(this.dir, "redis.log");
    if (!existsSync(file)) return "(no redis.log)";
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  }
}

/** Starts a redis-server on a free port in a fresh temp dir. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fleet-redis-"));
  const server = new RedisServer(await freePort(), dir, options);
  try {
    await server.start();
  } catch (error) {
    await server.destroy();
    throw error;
  }
  return server;
}
