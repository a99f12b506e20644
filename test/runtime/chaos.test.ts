/**
 * Bounded chaos: thousands of tasks on two agents' queues, worker processes SIGKILLed (and some
 * SIGTERMed) every few hundred ms and replaced, Redis itself SIGKILLed and restarted from its AOF
 * (appendfsync always) a few times — then every acknowledged task must have succeeded, no lease
 * may be left, and the duplicates (at-least-once re-executions) are reported.
 */
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { AgentType } from "../../agent-runtime/src/catalog";
import { TaskQueue } from "../../agent-runtime/src/queue";
import {
  sleep,
  startRedis,
  startWorkerProcess,
  uniquePrefix,
  waitUntil,
  type RedisServer,
  type ScriptProcess,
} from "./support";

const TASKS = 3_000;
/** Worker kills the test drives (1 in 4 graceful), whatever the machine's speed. */
const WORKER_KILLS = 24;
/** Pause between kills, so that work is in flight at each one. */
const KILL_PAUSE_MS = 500;
const REDIS_RESTARTS = 3;

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe("chaos", () => {
  it(
    "loses nothing and leaves no lease through worker kills and Redis restarts",
    // Driven by counts, not a clock: on a loaded machine it takes longer, never asserts less.
    { timeout: 300_000 },
    async () => {
      const started = Date.now();
      const redis: RedisServer = await startRedis({ appendonly: true, appendfsync: "always" });
      cleanups.push(() => redis.destroy());
      const prefix = uniquePrefix("chaos");
      const queue = new TaskQueue({ redis: redis.url, prefix, defaultMaxDeliveries: 50 });
      cleanups.push(() => queue.close());

      const agents: AgentType[] = ["python", "tester"];
      const typeOf: Record<string, string> = { python: "code-generation", tester: "test-run" };
      const slots: { agent: AgentType; child: ScriptProcess; replacing: boolean }[] = [];
      const all: ScriptProcess[] = [];
      const spawn = async (agent: AgentType) => {
        const child = await startWorkerProcess({
          redisUrl: redis.url,
          agent,
          prefix,
          concurrency: 8,
          leaseMs: 1_000,
          maxDeliveries: 50,
          drainTimeoutSeconds: 1,
          env: { REAP_INTERVAL_MS: "100", RETRY_BASE_MS: "50", RETRY_MAX_MS: "500" },
        });
        all.push(child);
        return child;
      };
      cleanups.push(async () => {
        await Promise.all(all.map((c) => c.kill9()));
      });
      for (const agent of [...agents, ...agents])
        slots.push({ agent, child: await spawn(agent), replacing: false });

      // Producer: all tasks, in bursts, through the chaos. An id counts once enqueue answered.
      const acknowledged = new Map<string, AgentType>();
      const production = (async () => {
        for (let n = 0; n < TASKS; n++) {
          const agent = agents[n % agents.length]!;
          const id = `c${n}`;
          const ms = n % 10 === 0 ? 50 : n % 5;
          const result = await queue.enqueue({
            id,
            type: typeOf[agent],
            priority: n % 4,
            input: { action: "sleep", ms },
          });
          acknowledged.set(result.id, agent);
          if (n % 50 === 0) await sleep(300);
        }
      })();

      // Chaos: WORKER_KILLS kills of a random started worker (1 in 4 gracefully), each replaced;
      // Redis SIGKILLed and restarted REDIS_RESTARTS times, spread evenly between the kills.
      let workerKills = 0;
      let gracefulStops = 0;
      let redisRestarts = 0;
      const redisAfterKills = Array.from({ length: REDIS_RESTARTS }, (_, i) =>
        Math.round(((i + 1) * WORKER_KILLS) / (REDIS_RESTARTS + 1)),
      );
      const replacements: Promise<void>[] = [];
      while (workerKills < WORKER_KILLS || redisRestarts < REDIS_RESTARTS) {
        await sleep(KILL_PAUSE_MS);
        // Only workers that finished starting; their replacements start in the background.
        const ready = slots.filter((s) => s.child.running && !s.replacing);
        const slot = ready[Math.floor(Math.random() * ready.length)];
        if (slot && workerKills < WORKER_KILLS) {
          if (workerKills % 4 === 3) {
            slot.child.kill("SIGTERM");
            gracefulStops++;
          } else {
            slot.child.kill("SIGKILL");
          }
          workerKills++;
          slot.replacing = true;
          replacements.push(
            (async () => {
              await slot.child.exited;
              slot.child = await spawn(slot.agent);
              slot.replacing = false;
            })(),
          );
        }
        if (redisRestarts < REDIS_RESTARTS && workerKills >= redisAfterKills[redisRestarts]!) {
          await redis.kill9();
          await sleep(300);
          await redis.start();
          redisRestarts++;
        }
      }
      await Promise.all(replacements);
      await production;

      // Settle: every acknowledged task must succeed.
      const check = new Redis(redis.url);
      cleanups.push(async () => check.disconnect());
      const statusesOf = async () => {
        const pipeline = check.pipeline();
        for (const [id, agent] of acknowledged)
          pipeline.hmget(queue.keys(agent).task(id), "status", "deliveries");
        return ((await pipeline.exec()) ?? []).map(([, v]) => v as [string | null, string | null]);
      };
      let statuses: [string | null, string | null][] = [];
      await waitUntil(
        async () => {
          statuses = await statusesOf();
          return statuses.every(([status]) => status === "succeeded");
        },
        { timeoutMs: 45_000, intervalMs: 250, message: "every acknowledged task to succeed" },
      ).catch(() => undefined);
      const notDone = [...acknowledged.keys()].filter((_, i) => statuses[i]?.[0] !== "succeeded");

      const leases = await Promise.all(agents.map((a) => check.zcard(queue.keys(a).leases)));
      const dead = await Promise.all(agents.map((a) => check.zcard(queue.keys(a).dead)));
      const executions = all.flatMap((c) => c.events.filter((e) => e.event === "start"));
      const redelivered = statuses.filter(([, deliveries]) => Number(deliveries) > 1).length;
      const report = {
        seconds: Math.round((Date.now() - started) / 1000),
        tasks: acknowledged.size,
        workerKills,
        gracefulStops,
        redisRestarts,
        lost: notDone.length,
        stuckLeases: leases.reduce((a, b) => a + b, 0),
        deadLettered: dead.reduce((a, b) => a + b, 0),
        executions: executions.length,
        duplicateExecutions: executions.length - new Set(executions.map((e) => e.id)).size,
        tasksDeliveredMoreThanOnce: redelivered,
      };
      console.info(`[chaos] ${JSON.stringify(report)}`);

      expect(report.tasks).toBe(TASKS);
      expect(notDone.slice(0, 10)).toEqual([]);
      expect(report.stuckLeases).toBe(0);
      expect(report.deadLettered).toBe(0);
      expect(report.workerKills).toBe(WORKER_KILLS);
      expect(report.redisRestarts).toBe(REDIS_RESTARTS);
    },
  );
});
