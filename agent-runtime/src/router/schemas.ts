/** The router's HTTP bodies, validated with zod; error messages are what the client reads. */
import { z } from "zod";
import { TASK_TYPES } from "../catalog";

export const PRIORITY_NAMES = ["critical", "high", "normal", "low"] as const;
export const DEFAULT_PRIORITY = 2;

/** Task ids and idempotency keys end up in Redis keys and URLs: keep them plain. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const taskId = z
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

/** 0..3, "P0".."P3" or critical|high|normal|low → 0 (highest) .. 3. */
export const PrioritySchema = z.union([z.int().min(0).max(3), z.string()]).transform((value, ctx) => {
  if (typeof value === "number") return value;
  const v = value.trim().toLowerCase();
  const band = /^p([0-3])$/.exec(v);
  if (band) return Number(band[1]);
  const named = (PRIORITY_NAMES as readonly string[]).indexOf(v);
  if (named >= 0) return named;
  ctx.addIssue({
    code: "custom",
    message: `must be 0-3, P0-P3 or one of ${PRIORITY_NAMES.join(", ")} (got "${value}")`,
  });
  return z.NEVER;
});

export const SubmitTaskSchema = z
  .strictObject({
    type: z.enum(TASK_TYPES, {
      error: (issue) =>
        issue.input === undefined
          ? "required: the task type, e.g. code-review"
          : `unknown task type ${JSON.stringify(issue.input)}; known types: ${TASK_TYPES.join(", ")}`,
    }),
    priority: PrioritySchema.default(DEFAULT_PRIORITY),
    input: TaskInputSchema,
    /** The task id; a second submit with the same id is a duplicate, not a second task. */
    id: taskId.optional(),
    /** Becomes the task id (so a retried submit is a duplicate); also read from the Idempotency-Key header. */
    idempotencyKey: taskId.optional(),
    /** Deliveries before the task is dead-lettered (default: the worker's). */
    maxDeliveries: z.int().min(1).max(100).optional(),
    /** Lease length for one delivery, in ms (default: the worker's). */
    timeoutMs: z.int().min(1).max(86_400_000).optional(),
  })
  .refine((t) => t.id === undefined || t.idempotencyKey === undefined || t.id === t.idempotencyKey, {
    message: "id and idempotencyKey (or the Idempotency-Key header) differ; send one of them",
    path: ["idempotencyKey"],
  });
export type SubmitTask = z.output<typeof SubmitTaskSchema>;

export function priorityName(priority: number): string {
  return `P${priority}`;
}
