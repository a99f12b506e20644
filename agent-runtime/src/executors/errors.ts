/**
 * One error type for everything an executor can meet, so the worker can decide from `retryable`
 * whether a task-level retry might help (a timeout or a 503 might; a 400 or a 401 never will).
 */

export type ExecutorErrorKind =
  /** The request outlived LLM_TIMEOUT_MS. */
  | "timeout"
  /** The caller aborted (drain deadline, forced shutdown). */
  | "aborted"
  /** Connection refused/reset, DNS failure: the backend was not reachable. */
  | "network"
  /** A non-2xx answer other than a rate limit. */
  | "http"
  /** 429 after the retries, or a Retry-After longer than the executor is willing to wait. */
  | "rate_limited"
  /** A 2xx answer that is not the JSON the API documents. */
  | "malformed_response"
  /** The task input cannot be turned into a prompt. */
  | "bad_input";

export interface ExecutorErrorOptions {
  kind: ExecutorErrorKind;
  retryable: boolean;
  status?: number;
  /** How long the backend asked us to wait, when it said so. */
  retryAfterMs?: number;
  /** HTTP attempts made before giving up. */
  attempts?: number;
  cause?: unknown;
}

export class ExecutorError extends Error {
  override readonly name = "ExecutorError";
  readonly kind: ExecutorErrorKind;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly attempts: number;

  constructor(message: string, options: ExecutorErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind;
    this.retryable = options.retryable;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.attempts = options.attempts ?? 0;
  }
}

/** A configuration problem found at start-up; the message names the variable or file. */
export class ExecutorConfigError extends Error {
  override readonly name = "ExecutorConfigError";
}
