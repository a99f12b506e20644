/** Queue helpers for tests: a TaskQueue on a fresh key prefix, and key inspection. */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { TaskQueue, type TaskQueueOptions } from "../../../agent-runtime/src/queue";

/** A prefix no other test uses, so tests can share one redis-server. */
export function uniquePrefix(name = "t"): string {
  return `${name}-${randomBytes(4).toString("hex")}`;
}

export function testQueue(url: string, options: Partial<TaskQueueOptions> = {}): TaskQueue {
  return new TaskQueue({ redis: url, prefix: uniquePrefix(), ...options });
}

/** Every key under a prefix (SCAN, test sizes only). */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  return found.sort();
}
