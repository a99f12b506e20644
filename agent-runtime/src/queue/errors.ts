/**
 * Typed queue errors, and the one function that maps the scripts' return codes to them.
 * Codes (docs/queue-protocol.md): 1 ok, 0 duplicate (enqueue), -2 lease lost (fail: an outcome,
 * not an error), -3 invalid argument (enqueue, with a message naming it).
 */

export const ScriptCode = {
  OK: 1,
  DUPLICATE: 0,
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

/** A script answered something this client does not understand (a protocol version mismatch). */
export class ProtocolError extends QueueError {}

/** Maps a script's error code (and optional detail) to a typed error; an unknown code is a protocol mismatch. */
export function errorFromCode(
  code: number,
  detail: string | undefined,
  context: QueueErrorContext,
): QueueError {
  const where = [context.agent && `agent ${context.agent}`, context.taskId && `task ${context.taskId}`]
    .filter(Boolean)
    .join(", ");
  const at = where ? ` (${where})` : "";
  if (code === ScriptCode.INVALID_ARGUMENT) {
    const message = detail ?? "invalid argument";
    const field = /^([A-Za-z[\]0-9]+):/.exec(message)?.[1];
    return new InvalidTaskError(`invalid task${at}: ${message}`, field, context);
  }
  return new ProtocolError(
    `script ${context.script ?? "?"} returned unknown code ${code}${at}${detail ? `: ${detail}` : ""}`,
    code,
    context,
  );
}
