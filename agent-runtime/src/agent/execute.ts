/**
 * POST /v1/execute: the mesh's synchronous path. Istio sends requests carrying a `task-type`
 * header straight to the agent's pods; each pod runs at most `concurrency` of them at once and
 * answers 429 beyond that, so the mesh retries on another pod instead of queueing here.
 * Upstream failures map to 502/503/504 so a retry policy can tell them apart from bad requests.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, Gauge, type Registry } from "prom-client";
import { z } from "zod";
import { agentForTask, taskTypesOf, type AgentType } from "../catalog";
import { ExecutorError, type Executor } from "../executors";
import { HttpError, parseBody, readJsonBody, sendJson } from "../lib/json";
import { annotateActiveSpan, taskAttributes } from "../lib/tracing";
import { ExecutorInputSchema } from "../executors/prompt";
import { TaskIdSchema } from "../queue/schema";

export const ExecuteBodySchema = z.strictObject({
  /** Optional when the `task-type` header carries it (the mesh routes on that header). */
  type: z.string().min(1).optional(),
  input: ExecutorInputSchema,
  id: TaskIdSchema.optional(),
  /** Accepted for symmetry with POST /v1/tasks; the sync path runs at once whatever the priority. */
  priority: z.unknown().optional(),
});

export interface ExecuteEndpointOptions {
  agent: AgentType;
  executor: Executor;
  /** Requests run at once at most; more get 429. */
  concurrency: number;
  maxBodyBytes: number;
  registry: Registry;
}

export class ExecuteEndpoint {
  private running = 0;
  private draining = false;
  private readonly controllers = new Set<AbortController>();
  private readonly idle: (() => void)[] = [];
  private readonly requests: Counter<"agent_type" | "outcome">;
  private readonly inFlight: Gauge<"agent_type">;

  constructor(private readonly options: ExecuteEndpointOptions) {
    const registers = [options.registry];
    this.requests = new Counter({
      name: "agent_execute_requests_total",
      help: "POST /v1/execute requests by outcome: succeeded, rejected (429), draining, invalid, failed.",
      labelNames: ["agent_type", "outcome"] as const,
      registers,
    });
    this.inFlight = new Gauge({
      name: "agent_execute_in_flight",
      help: "POST /v1/execute requests running now.",
      labelNames: ["agent_type"] as const,
      registers,
    });
  }

  get active(): number {
    return this.running;
  }

  /** Refuse new requests (503) from now on; resolves once the running ones have answered. */
  drain(): Promise<void> {
    this.draining = true;
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  /** Abort the running requests (their clients get 503): the forced-shutdown path. */
  abortAll(): void {
    for (const controller of this.controllers) controller.abort(new Error("agent shutting down"));
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { agent } = this.options;
    const count = (outcome: string) => this.requests.inc({ agent_type: agent, outcome });
    if (this.draining) {
      count("draining");
      throw new HttpError(503, `the ${agent} agent is shutting down; retry on another pod`, undefined, {
        "retry-after": "1",
        connection: "close",
      });
    }
    if (this.running >= this.options.concurrency) {
      count("rejected");
      throw new HttpError(
        429,
        `the ${agent} agent is running ${this.running} of ${this.options.concurrency} synchronous tasks; retry later`,
        { concurrency: this.options.concurrency },
        { "retry-after": "1" },
      );
    }
    // Take the slot before reading the body: a slow upload must not let a burst through.
    this.running++;
    this.inFlight.set({ agent_type: agent }, this.running);
    const controller = new AbortController();
    this.controllers.add(controller);
    const onClose = () => {
      if (!res.writableEnded) controller.abort(new Error("client went away"));
    };
    res.on("close", onClose);
    try {
      let body;
      let type: string;
      try {
        body = parseBody(
          ExecuteBodySchema,
          await readJsonBody(req, this.options.maxBodyBytes),
          "execute request",
        );
        type = this.taskTypeOf(req, body.type);
      } catch (error) {
        count("invalid");
        throw error;
      }
      const id = body.id ?? `sync-${randomUUID()}`;
      // Tracing on: the request's server span (continuing the mesh's traceparent) gets the task.
      annotateActiveSpan(taskAttributes({ id, agent, type }));
      const started = performance.now();
      try {
        const result = await this.options.executor.execute(
          { id, type, agent, input: body.input },
          controller.signal,
        );
        count("succeeded");
        sendJson(res, 200, {
          id,
          agent,
          type,
          status: "succeeded",
          durationMs: Math.round(performance.now() - started),
          result,
        });
      } catch (error) {
        count("failed");
        throw toHttpError(error, id);
      }
    } finally {
      res.off("close", onClose);
      this.controllers.delete(controller);
      this.running--;
      this.inFlight.set({ agent_type: agent }, this.running);
      if (this.running === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private taskTypeOf(req: IncomingMessage, bodyType: string | undefined): string {
    const header = req.headers["task-type"];
    const headerType = typeof header === "string" && header.trim() ? header.trim() : undefined;
    if (bodyType && headerType && bodyType !== headerType) {
      throw new HttpError(
        400,
        `the task-type header (${headerType}) and the body's type (${bodyType}) differ`,
      );
    }
    const type = bodyType ?? headerType;
    const served = taskTypesOf(this.options.agent);
    if (!type) {
      throw new HttpError(400, "missing task type: send a task-type header or a type field", [
        { path: "type", message: `one of ${served.join(", ")}` },
      ]);
    }
    const owner = agentForTask(type);
    if (owner !== this.options.agent) {
      const why = owner ? `it belongs to the ${owner} agent` : "it is not a known task type";
      throw new HttpError(
        400,
        `the ${this.options.agent} agent does not run ${JSON.stringify(type)}: ${why}`,
        [{ path: "type", message: `one of ${served.join(", ")}` }],
      );
    }
    return type;
  }
}

function toHttpError(error: unknown, id: string): HttpError {
  if (!(error instanceof ExecutorError)) {
    return new HttpError(500, `task ${id} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const details = {
    kind: error.kind,
    ...(error.status === undefined ? {} : { upstreamStatus: error.status }),
  };
  const retryAfter: Record<string, string> =
    error.retryAfterMs === undefined ? {} : { "retry-after": String(Math.ceil(error.retryAfterMs / 1000)) };
  switch (error.kind) {
    case "bad_input":
      return new HttpError(400, error.message, details);
    case "timeout":
      return new HttpError(504, error.message, details);
    case "aborted":
      return new HttpError(503, `task ${id} was aborted: the agent is shutting down`, details, {
        "retry-after": "1",
      });
    case "rate_limited":
      return new HttpError(503, error.message, details, retryAfter);
    default:
      return new HttpError(502, error.message, details);
  }
}
