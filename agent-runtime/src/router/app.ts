/**
 * The task router's API on the shared HTTP server (lib/http.ts serves /healthz, /readyz and
 * /metrics): POST /v1/tasks, GET /v1/tasks/:id, GET /v1/queues, each behind bearer-token auth.
 */
import type { IncomingMessage } from "node:http";
import { AGENT_TYPES, agentForTask, isAgentType } from "../catalog";
import { TASK_ID_PATTERN } from "../contract";
import type { HttpServer, RouteHandler } from "../lib/http";
import { InvalidTaskError } from "../queue/errors";
import type { TaskQueue } from "../queue/client";
import type { TokenAuth } from "./auth";
import { HttpError, parseBody, readJsonBody, sendJson } from "../lib/json";
import type { Counter } from "prom-client";
import type { QueueGauges, RouterResponseLabel } from "./metrics";
import { SubmitTaskSchema } from "./schemas";

export interface RouterRoutesOptions {
  queue: TaskQueue;
  /** Undefined: auth disabled (ROUTER_AUTH=disabled). */
  auth: TokenAuth | undefined;
  gauges: QueueGauges;
  /** Counts every answer of these routes (metrics.ts routerResponseCounter). */
  responses: Counter<RouterResponseLabel>;
}

export function registerRouterRoutes(http: HttpServer, options: RouterRoutesOptions): void {
  const { queue, gauges } = options;
  // `route` is the pattern, never the raw path, so the counter keeps one series per route. An
  // answer that never finishes (the client went away first) is not counted.
  const guarded =
    (route: string, handler: RouteHandler): RouteHandler =>
    (req, res, params) => {
      res.once("finish", () =>
        options.responses.inc({ method: req.method ?? "GET", route, code: String(res.statusCode) }),
      );
      authorize(options.auth, req);
      return handler(req, res, params);
    };

  http.route(
    "POST",
    "/v1/tasks",
    guarded("/v1/tasks", async (req, res) => {
      const body = await readJsonBody(req, http.maxBodyBytes);
      const task = parseBody(SubmitTaskSchema, withIdempotencyHeader(req, body), "task");
      const agent = agentForTask(task.type)!; // the schema admits known task types only
      let outcome;
      try {
        outcome = await queue.enqueue({
          id: task.id ?? task.idempotencyKey,
          type: task.type,
          priority: task.priority,
          input: task.input,
          maxDeliveries: task.maxDeliveries,
          timeoutMs: task.timeoutMs,
        });
      } catch (error) {
        if (error instanceof InvalidTaskError) {
          throw new HttpError(400, "invalid task", [
            { path: error.field ?? "(body)", message: error.message },
          ]);
        }
        throw error;
      }
      sendJson(
        res,
        outcome.duplicate ? 200 : 202,
        { id: outcome.id, agent, status: outcome.status, ...(outcome.duplicate ? { duplicate: true } : {}) },
        { location: `/v1/tasks/${encodeURIComponent(outcome.id)}` },
      );
    }),
  );

  http.route(
    "GET",
    /^\/v1\/tasks\/([^/]+)$/,
    guarded("/v1/tasks/:id", async (req, res, [rawId]) => {
      const id = safeDecode(rawId ?? "");
      if (!TASK_ID_PATTERN.test(id)) {
        throw new HttpError(400, `invalid task id ${JSON.stringify(id)}`, [
          { path: "id", message: "must be 1-128 characters of letters, digits, '.', '_', ':' or '-'" },
        ]);
      }
      // Ids are unique per agent; ?agent= picks one when a client reused an id across agents.
      const agentParam = new URL(req.url ?? "/", "http://router.invalid").searchParams.get("agent");
      if (agentParam !== null && !isAgentType(agentParam)) {
        throw new HttpError(400, `unknown agent ${JSON.stringify(agentParam)}`, [
          { path: "agent", message: `one of ${AGENT_TYPES.join(", ")}` },
        ]);
      }
      const record = await queue.getTask(id, agentParam ?? undefined);
      if (!record) throw new HttpError(404, `no task ${id} (never submitted, or its result has expired)`);
      sendJson(res, 200, record);
    }),
  );

  http.route(
    "GET",
    "/v1/queues",
    guarded("/v1/queues", async (_req, res) => {
      sendJson(res, 200, { agents: await gauges.refresh() });
    }),
  );
}

function authorize(auth: TokenAuth | undefined, req: IncomingMessage): void {
  if (!auth || auth.check(req.headers.authorization)) return;
  throw new HttpError(
    401,
    req.headers.authorization ? "the bearer token is not valid" : "missing Authorization: Bearer <token>",
    undefined,
    { "www-authenticate": 'Bearer realm="agent-fleet"' },
  );
}

/** An Idempotency-Key header counts as the body's idempotencyKey (the schema rejects a clash). */
function withIdempotencyHeader(req: IncomingMessage, body: unknown): unknown {
  const key = req.headers["idempotency-key"];
  if (typeof key !== "string" || typeof body !== "object" || body === null || Array.isArray(body))
    return body;
  const existing = (body as Record<string, unknown>).idempotencyKey;
  if (existing !== undefined && existing !== key) {
    throw new HttpError(400, "invalid task", [
      { path: "idempotencyKey", message: "differs from the Idempotency-Key header; send one of them" },
    ]);
  }
  return { ...body, idempotencyKey: key };
}

function safeDecode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
