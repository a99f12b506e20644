/** The router's HTTP bodies, validated with zod; error messages are what the client reads. */
import { z } from "zod";
import { describeJson, ExecutorInputSchema } from "../executors/prompt";
import { DEFAULT_PRIORITY, TaskIdSchema, TaskSubmissionSchema } from "../queue/schema";

export const PRIORITY_NAMES = ["critical", "high", "normal", "low"] as const;

const PRIORITY_ALLOWED = `must be 0-3, P0-P3 or one of ${PRIORITY_NAMES.join(", ")}`;

/** 0..3, "P0".."P3" or critical|high|normal|low → 0 (highest) .. 3. */
export const PrioritySchema = z
  .union([z.number(), z.string()], {
    error: (issue) => `${PRIORITY_ALLOWED} (got ${describeJson(issue.input)})`,
  })
  .transform((value, ctx) => {
    if (typeof value === "number") {
      if (Number.isInteger(value) && value >= 0 && value <= 3) return value;
    } else {
      const v = value.trim().toLowerCase();
      const band = /^p([0-3])$/.exec(v);
      if (band) return Number(band[1]);
      const named = (PRIORITY_NAMES as readonly string[]).indexOf(v);
      if (named >= 0) return named;
    }
    ctx.addIssue({ code: "custom", message: `${PRIORITY_ALLOWED} (got ${JSON.stringify(value)})` });
    return z.NEVER;
  });

/**
 * POST /v1/tasks: the queue's submission, with priorities by name too and an idempotency key. A
 * task's createdAt is when the router enqueued it (the queue's default): clients cannot set it.
 */
export const SubmitTaskSchema = TaskSubmissionSchema.omit({
  createdAt: true,
  // The trace context comes from the traceparent/tracestate headers (router/app.ts), not the body.
  traceparent: true,
  tracestate: true,
})
  .extend({
    input: ExecutorInputSchema,
    priority: PrioritySchema.default(DEFAULT_PRIORITY),
    /** Becomes the task id (so a retried submit is a duplicate); also read from the Idempotency-Key header. */
    idempotencyKey: TaskIdSchema.optional(),
  })
  .refine((t) => t.id === undefined || t.idempotencyKey === undefined || t.id === t.idempotencyKey, {
    message: "id and idempotencyKey (or the Idempotency-Key header) differ; send one of them",
    path: ["idempotencyKey"],
  });
