import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { spawnScript, startRedis, type RedisServer } from "./support";

describe("test harness", () => {
  const servers: RedisServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.destroy()));
  });

  it("kill -9 and restart on the same port replays the AOF", async () => {
    const server = await startRedis({ appendfsync: "always" });
    servers.push(server);
    const client = new Redis(server.url, { maxRetriesPerRequest: null, lazyConnect: true });
    await client.connect();
    await client.set("k", "v");
    await server.kill9();
    expect(server.running).toBe(false);
    await server.start();
    expect(await client.get("k")).toBe("v");
    client.disconnect();
  });

  it("runs TypeScript children that can be signalled", async () => {
    const child = spawnScript(path.join(__dirname, "support/fixtures/echo-child.ts"));
    await child.waitForEvent((e) => e.event === "ready");
    child.kill("SIGTERM");
    expect((await child.exited).code).toBe(0);
    expect(child.events.map((e) => e.event)).toEqual(["ready", "sigterm"]);
  });
});
