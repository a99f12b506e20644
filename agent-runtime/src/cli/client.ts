/** The CLI's HTTP client for the task router; responses are validated like any other input. */
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";

export const TERMINAL_STATUSES = ["succeeded", "failed", "dead"] as const;

const SubmitResponseSchema = z.object({
  id: z.string(),
  agent: z.string(),
  status: z.string(),
  duplicate: z.boolean().optional(),
});
export type SubmitResponse = z.infer<typeof SubmitResponseSchema>;

const TaskViewSchema = z.looseObject({ id: z.string(), agent: z.string(), status: z.string() });
export type TaskViewResponse = z.infer<typeof TaskViewSchema>;

const count = z.int().nonnegative();
const QueuesResponseSchema = z.object({
  agents: z.array(
    z.object({
      agent: z.string(),
      ready: z.object({ P0: count, P1: count, P2: count, P3: count }),
      inFlight: count,
      delayed: count,
      dead: count,
      oldestReadyAgeSeconds: z.number().nonnegative().nullable(),
    }),
  ),
});
export type QueuesResponse = z.infer<typeof QueuesResponseSchema>;

const ErrorBodySchema = z.object({ error: z.string(), details: z.unknown().optional() });

export class RouterClientError extends Error {
  override readonly name = "RouterClientError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RouterClientOptions {
  url: string;
  token: string | undefined;
  timeoutMs?: number;
}

export class RouterClient {
  private readonly base: string;
  constructor(private readonly options: RouterClientOptions) {
    this.base = options.url.replace(/\/+$/, "");
  }

  submit(body: Record<string, unknown>): Promise<SubmitResponse> {
    return this.request("POST", "/v1/tasks", SubmitResponseSchema, body);
  }

  task(id: string): Promise<TaskViewResponse> {
    return this.request("GET", `/v1/tasks/${encodeURIComponent(id)}`, TaskViewSchema);
  }

  queues(): Promise<QueuesResponse> {
    return this.request("GET", "/v1/queues", QueuesResponseSchema);
  }

  /** Poll until the task reaches a terminal status, or throw after `timeoutMs`. */
  async wait(id: string, timeoutMs: number): Promise<TaskViewResponse> {
    const deadline = Date.now() + timeoutMs;
    let delay = 50;
    for (;;) {
      const view = await this.task(id);
      if ((TERMINAL_STATUSES as readonly string[]).includes(view.status)) return view;
      if (Date.now() + delay > deadline) {
        throw new RouterClientError(`task ${id} is still ${view.status} after ${timeoutMs} ms (--timeout)`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.infer<S>> {
    const url = `${this.base}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
      throw new RouterClientError(
        `cannot reach the task router at ${this.base}${cause}; start it with "agent-fleet dev" or set ROUTER_URL`,
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RouterClientError(
        `${method} ${url} answered ${response.status} with non-JSON: ${text.slice(0, 200)}`,
      );
    }
    if (!response.ok) {
      const parsed = ErrorBodySchema.safeParse(json);
      const message = parsed.success ? parsed.data.error : text.slice(0, 200);
      const details =
        parsed.success && parsed.data.details !== undefined ? formatDetails(parsed.data.details) : "";
      const hint = response.status === 401 ? " (set ROUTER_TOKEN or --token)" : "";
      throw new RouterClientError(`${response.status}: ${message}${hint}${details}`, response.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new RouterClientError(`${method} ${url} answered an unexpected body: ${parsed.error.message}`);
    }
    return parsed.data;
  }
}

function formatDetails(details: unknown): string {
  if (!Array.isArray(details)) return `\n  ${JSON.stringify(details)}`;
  return details
    .map((d: unknown) => {
      const item = z.object({ path: z.string(), message: z.string() }).safeParse(d);
      return item.success ? `\n  ${item.data.path}: ${item.data.message}` : `\n  ${JSON.stringify(d)}`;
    })
    .join("");
}
