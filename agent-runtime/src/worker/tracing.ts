/**
 * A delivery's spans. The worker continues the submitter's trace as a **child** (not a span
 * link): the task's stored traceparent is the parent of a "queue wait" span (enqueuedAt → claim,
 * first delivery only) and of one "process <agent>" span per delivery, under which the executor's
 * model calls nest. So one task is one trace, found by its id, and a retry or a redelivery after a
 * lost worker is one more "process" span in it (attribute agent_fleet.task.delivery) — its gap to
 * the previous attempt is the backoff or the lease expiry. Why not links: docs/operations.md
 * ("Tracing").
 */
import type { AgentType } from "../catalog";
import type { TaskOutcome } from "../lib/metrics";
import {
  context,
  contextFrom,
  failSpan,
  SEMCONV,
  SpanKind,
  TASK_ATTRIBUTES,
  taskAttributes,
  trace,
  tracer,
  type Context,
  type Span,
} from "../lib/tracing";
import type { Task } from "../queue/schema";

export interface TaskTrace {
  /** Runs `work` with the delivery's span current (an executor's HTTP spans become its children). */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Ends the delivery's span with how it ended. */
  end(outcome: TaskOutcome, error?: unknown): void;
}

/** Starts a delivery's spans; call only when tracingActive(). `claimedAt`: Unix ms. */
export function startTaskTrace(task: Task, agent: AgentType, claimedAt: number): TaskTrace {
  const parent = contextFrom(task.trace);
  const attributes = {
    ...taskAttributes({ id: task.id, agent, type: task.type, priority: task.priority }),
    [TASK_ATTRIBUTES.delivery]: task.deliveries,
    [SEMCONV.MESSAGING_SYSTEM]: "agent_fleet",
    [SEMCONV.MESSAGING_DESTINATION_NAME]: agent,
    [SEMCONV.MESSAGING_MESSAGE_ID]: task.id,
  };
  // Later deliveries waited for a retry or a lease expiry, not in line: the gap between their
  // "process" spans shows it. (A task released at a drain comes back as delivery 1 again.)
  if (task.deliveries <= 1) {
    tracer()
      .startSpan("queue wait", { kind: SpanKind.INTERNAL, startTime: task.enqueuedAt, attributes }, parent)
      // Clocks of producer and worker hosts may disagree by a little: never end before the start.
      .end(Math.max(task.enqueuedAt, claimedAt));
  }
  const span: Span = tracer().startSpan(
    `process ${agent}`,
    {
      kind: SpanKind.CONSUMER,
      startTime: claimedAt,
      attributes: { ...attributes, [SEMCONV.MESSAGING_OPERATION_TYPE]: "process" },
    },
    parent,
  );
  const active: Context = trace.setSpan(parent, span);
  return {
    run: (work) => context.with(active, work),
    end: (outcome, error) => {
      span.setAttribute(TASK_ATTRIBUTES.outcome, outcome);
      if (error !== undefined || (outcome !== "succeeded" && outcome !== "released")) {
        failSpan(span, error ?? outcome, error === undefined ? outcome : undefined);
      }
      span.end();
    },
  };
}
