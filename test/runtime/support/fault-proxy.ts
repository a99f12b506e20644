/**
 * A TCP proxy between a client and redis-server on 127.0.0.1 that can lose a reply after Redis
 * ran the command — what a crash, a failover or a dropped connection does to a client:
 *
 *   const proxy = await startFaultProxy(redis.port);
 *   const queue = new TaskQueue({ redis: proxy.url });
 *   const dropped = proxy.dropNextReply();   // the next bytes Redis sends are discarded and the
 *   await queue.enqueue(...);                // client's connection is cut; ioredis reconnects
 *   await dropped;                           // through the proxy and resends the command
 *   await proxy.close();
 *
 * Only the connections made after start() pass through it; it never listens beyond loopback.
 */
import net from "node:net";

export interface FaultProxy {
  port: number;
  url: string;
  /** Replies dropped so far. */
  readonly dropped: number;
  /** Drops the next reply chunk from Redis on any connection; resolves once one was dropped. */
  dropNextReply(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(redisPort: number): Promise<FaultProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let armed: (() => void) | undefined;
  let dropped = 0;

  const server = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: redisPort });
    const pair = { client, upstream };
    pairs.add(pair);
    const cut = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", cut);
    upstream.on("error", cut);
    client.on("close", cut);
    upstream.on("close", cut);
    client.on("data", (chunk: Buffer) => upstream.write(chunk));
    upstream.on("data", (chunk: Buffer) => {
      const trigger = armed;
      if (trigger === undefined) {
        client.write(chunk);
        return;
      }
      armed = undefined;
      dropped++;
      cut();
      trigger();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fault proxy: no TCP address");

  return {
    port: address.port,
    url: `redis://127.0.0.1:${address.port}/0`,
    get dropped() {
      return dropped;
    },
    dropNextReply() {
      return new Promise<void>((resolve) => {
        armed = resolve;
      });
    },
    async close() {
      armed = undefined;
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
