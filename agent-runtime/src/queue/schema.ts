/**
 * Task shapes at the queue's boundaries, validated with zod: what a producer submits, and the
 * payload a worker reads back. The Lua enqueue script enforces the same rules for producers in
 * other languages.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { TASK_TYPES, type AgentType, type TaskType } from "../catalog";
import { TASK_ID_PATTERN } from "../contract";
import { TRACEPARENT_PATTERN, TRACESTATE_PATTERN, type TraceCarrier } from "../lib/tracing";

export const TASK_STATUSES = ["queued", "running", "retrying", "succeeded", "failed", "dead"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const PRIORITIES = [0, 1, 2, 3] as const;
export type Priority = (typeof PRIORITIES)[number];
/** P2: the band a task lands in when the producer does not say. */
export const DEFAULT_PRIORITY: Priority = 2;

export const MAX_INPUT_BYTES = 1024 * 1024;
export const MAX_DELIVERIES_LIMIT = 100;
export const MAX_TIMEOUT_MS = 86_400_000;

const ISO_TIMESTAMP = /^\d{4}-[A-Za-z0-9:.+-]+$/;

/** A task id (also an idempotency key): it ends up in Redis keys and URLs. */
export const TaskIdSchema = z
  .string()
  .regex(
    TASK_ID_PATTERN,
    "must be 1-128 characters of letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
  );

/** A task's input: a JSON object (the queue stores objects only; executors read its `prompt`). */
export const TaskInputSchema = z.record(z.string(), z.json(), {
  error: (issue) =>
    issue.input === undefined
      ? 'required: the task\'s input, a JSON object such as {"prompt": "..."}'
      : 'must be a JSON object, e.g. {"prompt": "..."}',
});

/**
 * What a producer submits: the one submission schema (the router extends it). `id` defaults to a
 * UUID, `priority` to 2, `createdAt` to now.
 */
export const TaskSubmissionSchema = z.strictObject({
  /** A second submit with the same id is a duplicate, not a second task. */
  id: TaskIdSchema.optional(),
  type: z.enum(TASK_TYPES, {
    error: (issue) =>
      issue.input === undefined
        ? "required: the task type, e.g. code-review"
        : `unknown task type ${JSON.stringify(issue.input)}; known types: ${TASK_TYPES.join(", ")}`,
  }),
  priority: z
    .int({ error: "must be an integer 0..3 (0 is the highest)" })
    .min(0, "must be 0..3 (0 is the highest)")
    .max(3, "must be 0..3 (0 is the highest)")
    .default(DEFAULT_PRIORITY),
  input: TaskInputSchema,
  /** Deliveries before the task is dead-lettered (default: the worker's). */
  maxDeliveries: z.int().min(1).max(MAX_DELIVERIES_LIMIT).optional(),
  /** Lease length for one delivery, in ms (default: the worker's). */
  timeoutMs: z.int().min(1).max(MAX_TIMEOUT_MS).optional(),
  createdAt: z.string().regex(ISO_TIMESTAMP, "must be an ISO-8601 timestamp").max(40).optional(),
  /**
   * W3C trace context the task's spans continue (docs/queue-protocol.md). Default: the caller's
   * current span, when tracing is on. The router takes it from request headers, never the body.
   */
  traceparent: z
    .string()
    .regex(
      TRACEPARENT_PATTERN,
      "must be a W3C traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>",
    )
    .optional(),
  /** Ignored without a traceparent. */
  tracestate: z
    .string()
    .regex(
      TRACESTATE_PATTERN,
      "must be a W3C tracestate of at most 512 characters, without '\"', '\\', '{' or '}'",
    )
    .optional(),
});
export type TaskSubmission = z.input<typeof TaskSubmissionSchema>;

/** A submission with its defaults filled in. */
export interface NormalizedSubmission {
  id: string;
  type: TaskType;
  priority: Priority;
  input: Record<string, unknown>;
  inputJson: string;
  maxDeliveries: number | undefined;
  timeoutMs: number | undefined;
  createdAt: string;
  trace: TraceCarrier | undefined;
}

/** Validates a submission; throws a zod error listing every problem by field path. */
export function normalizeSubmission(submission: unknown, now: number = Date.now()): NormalizedSubmission {
  const parsed = TaskSubmissionSchema.parse(submission);
  const inputJson = JSON.stringify(parsed.input);
  return {
    id: parsed.id ?? randomUUID(),
    type: parsed.type,
    priority: parsed.priority as Priority,
    input: parsed.input,
    inputJson,
    maxDeliveries: parsed.maxDeliveries,
    timeoutMs: parsed.timeoutMs,
    createdAt: parsed.createdAt ?? new Date(now).toISOString(),
    trace:
      parsed.traceparent === undefined
        ? undefined
        : {
            traceparent: parsed.traceparent,
            ...(parsed.tracestate === undefined ? {} : { tracestate: parsed.tracestate }),
          },
  };
}

/** The payload as enqueue.v1.lua stores it (the `payload` field of the task hash). */
export interface StoredPayload {
  id: string;
  type: string;
  priority: Priority;
  createdAt?: string;
  enqueuedAt: number;
  maxDeliveries?: number;
  timeoutMs?: number;
  traceparent?: string;
  tracestate?: string;
  input: Record<string, unknown>;
}

/**
 * Reads a stored payload; undefined when it is not JSON of that shape (only a hand-edited hash).
 * Checked by hand rather than with zod: a worker parses one per task, and enqueue.v1.lua wrote it.
 */
export function parseStoredPayload(raw: unknown): StoredPayload | undefined {
  if (typeof raw !== "string") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const p = value as Record<string, unknown>;
  const optionalInt = (v: unknown) => v === undefined || Number.isInteger(v);
  const ok =
    typeof p.id === "string" &&
    typeof p.type === "string" &&
    (p.priority === 0 || p.priority === 1 || p.priority === 2 || p.priority === 3) &&
    (p.createdAt === undefined || typeof p.createdAt === "string") &&
    typeof p.enqueuedAt === "number" &&
    optionalInt(p.maxDeliveries) &&
    optionalInt(p.timeoutMs) &&
    typeof p.input === "object" &&
    p.input !== null &&
    !Array.isArray(p.input);
  return ok ? (p as unknown as StoredPayload) : undefined;
}

/**
 * A stored payload's trace context; undefined when it has none or a malformed one (a producer in
 * another language): tracing never fails a task, the task then starts a trace of its own.
 */
export function storedTraceCarrier(payload: StoredPayload): TraceCarrier | undefined {
  const { traceparent, tracestate } = payload;
  if (typeof traceparent !== "string" || !TRACEPARENT_PATTERN.test(traceparent)) return undefined;
  return typeof tracestate === "string" && TRACESTATE_PATTERN.test(tracestate)
    ? { traceparent, tracestate }
    : { traceparent };
}

/** A task as a worker receives it. */
export interface Task {
  agent: AgentType;
  id: string;
  type: string;
  priority: Priority;
  input: Record<string, unknown>;
  createdAt: string | undefined;
  /** When the task entered the queue (producer's clock, ms). */
  enqueuedAt: number;
  /** This delivery's number, 1 on the first claim. */
  deliveries: number;
  maxDeliveries: number | undefined;
  timeoutMs: number | undefined;
  /** The W3C trace context it was submitted under (tracing on): its spans join that trace. */
  trace?: TraceCarrier;
}

/** Proof of a claim: the token must accompany ack, fail, renew and release. */
export interface Lease {
  agent: AgentType;
  id: string;
  token: string;
}

export type ClaimedTask = Task & { token: string };
