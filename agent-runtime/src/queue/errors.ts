/**
 * Typed queue errors, and the one function that maps the scripts' return codes to them.
 * Codes (docs/queue-protocol.md): 1 ok, 0 duplicate, -1 task not found, -2 lease lost,
 * -3 invalid argument (with a message naming it).
 */

export const ScriptCode = {
  OK: 1,
  DUPLICATE: 0,
  TASK_NOT_FOUND: -1,
  LEASE_LOST: -2,
  INVALID_ARGUMENT: -3,
} as const;

export interface QueueErrorContext {
  agent?: string;
  taskId?: string;
  script?: string;
}

export class QueueError extends Error {
  readonly code: number;
  readonly agent: string | undefined;
  readonly taskId: string | undefined;

  constructor(message: string, code: number, context: QueueErrorContext = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.agent = context.agent;
    this.taskId = context.taskId;
  }
}

/** The task payload broke a rule; nothing was enqueued. `field` names the offending field. */
export class InvalidTaskError extends QueueError {
  constructor(
    message: string,
    readonly field: string | undefined,
    context: QueueErrorContext = {},
  ) {
    super(message, ScriptCode.INVALID_ARGUMENT, context);
  }
}

/** The worker no longer holds this task's lease (it expired and was reaped). */
export class LeaseLostError extends QueueError {}

export class TaskNotFoundError extends QueueError {}

/** A script answered something this client does not understand (a protocol version mismatch). */
export class ProtocolError extends QueueError {}

/** Maps a script's negative return code (and optional detail) to a typed error. */
export function errorFromCode(
  code: number,
  detail: string | undefined,
  context: QueueErrorContext,
): QueueError {
  const where = [context.agent && `agent ${context.agent}`, context.taskId && `task ${context.taskId}`]
    .filter(Boolean)
    .join(", ");
  const at = where ? ` (${where})` : "";
  switch (code) {
    case ScriptCode.INVALID_ARGUMENT: {
      const message = detail ?? "invalid argument";
      const field = /^([A-Za-z[\]0-9]+):/.exec(message)?.[1];
      return new InvalidTaskError(`invalid task${at}: ${message}`, field, context);
    }
    case ScriptCode.LEASE_LOST:
      return new LeaseLostError(
        `lease lost${at}: it expired and was reaped, so another worker may run the task; the result is dropped`,
        code,
        context,
      );
    case ScriptCode.TASK_NOT_FOUND:
      return new TaskNotFoundError(`task not found${at}`, code, context);
    default:
      return new ProtocolError(
        `script ${context.script ?? "?"} returned unknown code ${code}${at}${detail ? `: ${detail}` : ""}`,
        code,
        context,
      );
  }
}
