/**
 * The router as the node suite reaches it: over `kubectl port-forward` to its Service, with the
 * bearer token the stack generated (read back from the cluster's Secret). Every task the suite
 * submits goes into a ledger, so that each test can prove that none was lost.
 */
import { z } from "zod";
import { AGENT_TYPES, agentForTask, type AgentType } from "../../../agent-runtime/src/catalog";
import { waitUntil } from "../../runtime/support/wait";

const FINAL = new Set(["succeeded", "failed", "dead"]);

/** The fields of GET /v1/tasks/:id the suite reads. */
export const taskRecord = z.looseObject({
  id: z.string(),
  agent: z.enum(AGENT_TYPES),
  status: z.string(),
  deliveries: z.number(),
  worker: z.string().optional(),
  enqueuedAt: z.number().optional(),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
  result: z.unknown().optional(),
});
export type TaskView = z.infer<typeof taskRecord>;

const queuesBody = z.object({
  agents: z.array(
    z.looseObject({
      agent: z.enum(AGENT_TYPES),
      ready: z.object({ P0: z.number(), P1: z.number(), P2: z.number(), P3: z.number() }),
      inFlight: z.number(),
      delayed: z.number(),
      dead: z.number(),
    }),
  ),
});
export type QueueView = z.infer<typeof queuesBody>["agents"][number];

export class Router {
  /** Every task id submitted, with its agent. */
  readonly ledger = new Map<string, AgentType>();
  private seq = 0;

  constructor(
    private readonly baseUrl: () => string,
    private readonly token: string,
  ) {}

  private async call(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.baseUrl()}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json", ...init.headers },
      signal: AbortSignal.timeout(15_000),
    });
  }

  /** POST /v1/tasks with an id of the suite's own; retried while the router or Redis is away. */
  async submit(type: string, prompt: string, label = "t"): Promise<string> {
    const id = `node-${label}-${++this.seq}-${Date.now().toString(36)}`;
    const agent = agentForTask(type);
    if (!agent) throw new Error(`no agent takes task type ${type}`);
    this.ledger.set(id, agent);
    await waitUntil(
      async () => {
        const res = await this.call("/v1/tasks", {
          method: "POST",
          body: JSON.stringify({ id, type, input: { prompt } }),
        });
        if (res.status === 202 || res.status === 200) return true;
        throw new Error(`submit ${id}: ${res.status} ${await res.text()}`);
      },
      { timeoutMs: 120_000, intervalMs: 500, message: `the router to accept task ${id}` },
    );
    return id;
  }

  async task(id: string): Promise<TaskView | undefined> {
    const res = await this.call(`/v1/tasks/${encodeURIComponent(id)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET task ${id}: ${res.status} ${await res.text()}`);
    return taskRecord.parse(await res.json());
  }

  /** Waits for the task's final status (errors while Redis or the router restarts count as "not yet"). */
  async final(id: string, timeoutMs = 180_000): Promise<TaskView> {
    return waitUntil(
      async () => {
        const t = await this.task(id);
        return t && FINAL.has(t.status) ? t : undefined;
      },
      { timeoutMs, intervalMs: 250, message: `task ${id} to finish` },
    );
  }

  /** Waits until the task is being worked on; returns it (with the worker holding its lease). */
  async running(id: string, timeoutMs = 120_000): Promise<TaskView> {
    return waitUntil(
      async () => {
        const t = await this.task(id);
        return t?.status === "running" && t.worker ? t : undefined;
      },
      { timeoutMs, intervalMs: 100, message: `task ${id} to be running` },
    );
  }

  async queues(): Promise<QueueView[]> {
    const res = await this.call("/v1/queues");
    if (res.status !== 200) throw new Error(`GET /v1/queues: ${res.status} ${await res.text()}`);
    return queuesBody.parse(await res.json()).agents;
  }

  /**
   * The ledger's proof: every task submitted so far finished and succeeded (none lost, none
   * failed), and no queue holds anything — nothing ready, delayed, dead, and no lease left.
   */
  async assertNothingLost(): Promise<{ tasks: number; redelivered: number }> {
    let redelivered = 0;
    const bad: string[] = [];
    for (const id of this.ledger.keys()) {
      const t = await this.final(id);
      if (t.status !== "succeeded") bad.push(`${id}: ${t.status}`);
      if (t.deliveries > 1) redelivered++;
    }
    if (bad.length) throw new Error(`tasks that did not succeed:\n${bad.join("\n")}`);
    const busy = await waitUntil(
      async () => {
        const q = await this.queues();
        const left = q.filter(
          (a) => a.inFlight + a.delayed + a.dead + a.ready.P0 + a.ready.P1 + a.ready.P2 + a.ready.P3 > 0,
        );
        return left.length === 0 ? q : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, message: "every queue to be empty, with no lease left" },
    );
    if (busy.length !== AGENT_TYPES.length) throw new Error(`the router reports ${busy.length} queues`);
    return { tasks: this.ledger.size, redelivered };
  }
}
