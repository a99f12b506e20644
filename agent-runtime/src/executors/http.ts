/**
 * POST a JSON body to an LLM API with a per-attempt timeout and retries on 429/5xx and network
 * errors. Backoff is capped exponential with jitter; a Retry-After (or OpenAI's retry-after-ms)
 * header replaces the computed delay. A Retry-After longer than the cap is not slept through:
 * the call fails at once as `rate_limited` with `retryAfterMs`, so the task goes back to the
 * queue (whose own backoff holds no worker slot) instead of pinning a slot for minutes.
 * Timeouts are not retried here: a timed-out attempt already spent the whole budget, and the
 * worker's task-level retry decides whether to spend it again.
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import {
  context,
  failSpan,
  propagation,
  SEMCONV,
  SpanKind,
  trace,
  tracer,
  type Attributes,
  type Span,
} from "../lib/tracing";
import { retryDelayMs } from "../queue/backoff";
import { ExecutorError } from "./errors";

export interface RetryPolicy {
  /** Retries after the first attempt (0 = one attempt only). */
  maxRetries: number;
  /** First backoff step; doubled per retry. */
  baseDelayMs: number;
  /** Cap on any single wait, computed or asked for by Retry-After. */
  maxDelayMs: number;
}

export interface RetryEvent {
  attempt: number;
  delayMs: number;
  reason: "rate_limited" | "server_error" | "network";
  status?: number;
}

export interface PostJsonRequest {
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** Per-attempt timeout. */
  timeoutMs: number;
  retry: RetryPolicy;
  /** The caller's signal (drain, forced shutdown); aborts the attempt and any backoff sleep. */
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
  /** Injected in tests to make jitter deterministic. */
  random?: () => number;
  /**
   * Set when tracing is on: each attempt is a client span with these attributes (plus the HTTP
   * ones), a child of the current span, and its traceparent goes out as a header.
   */
  traceAttributes?: Attributes;
}

export interface PostJsonResponse {
  status: number;
  json: unknown;
  attempts: number;
  /** Duration of the attempt that succeeded, in seconds. */
  seconds: number;
}

const MAX_ERROR_BODY_CHARS = 500;

export async function postJson(req: PostJsonRequest): Promise<PostJsonResponse> {
  const random = req.random ?? Math.random;
  const payload = JSON.stringify(req.body);
  for (let attempt = 1; ; attempt++) {
    req.signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(req.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const started = performance.now();
    const headers = { "content-type": "application/json", accept: "application/json", ...req.headers };
    const span = req.traceAttributes ? startAttemptSpan(req, attempt, headers) : undefined;
    let response: Response;
    let text: string;
    try {
      response = await fetch(req.url, { method: "POST", headers, body: payload, signal });
      text = await response.text();
      if (span) endAttemptSpan(span, response.status);
    } catch (error) {
      if (span) {
        failSpan(span, error, req.signal?.aborted ? "aborted" : timeout.aborted ? "timeout" : undefined);
        span.end();
      }
      if (req.signal?.aborted) {
        throw new ExecutorError(`request to ${req.url} aborted by the caller`, {
          kind: "aborted",
          retryable: true,
          attempts: attempt,
          cause: error,
        });
      }
      if (timeout.aborted) {
        throw new ExecutorError(
          `no answer from ${req.url} within ${req.timeoutMs} ms (LLM_TIMEOUT_MS); attempt ${attempt}`,
          { kind: "timeout", retryable: true, attempts: attempt, cause: error },
        );
      }
      if (attempt <= req.retry.maxRetries) {
        const delayMs = backoffMs(req.retry, attempt, random);
        req.onRetry?.({ attempt, delayMs, reason: "network" });
        await sleep(delayMs, req.signal, req.url, attempt);
        continue;
      }
      throw new ExecutorError(
        `cannot reach ${req.url} after ${attempt} attempt(s): ${causeText(error)}; is the LLM backend (LLM_BASE_URL) up?`,
        { kind: "network", retryable: true, attempts: attempt, cause: error },
      );
    }
    const seconds = (performance.now() - started) / 1000;

    if (response.ok) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw new ExecutorError(
          `${req.url} answered ${response.status} with a body that is not JSON: ${truncate(text)}`,
          {
            kind: "malformed_response",
            retryable: true,
            status: response.status,
            attempts: attempt,
            cause: error,
          },
        );
      }
      return { status: response.status, json, attempts: attempt, seconds };
    }

    const status = response.status;
    const rateLimited = status === 429;
    const retryableStatus = rateLimited || status === 408 || status >= 500;
    const retryAfterMs = parseRetryAfter(response.headers);
    const detail = `${req.url} answered ${status}: ${errorMessageOf(text)}`;
    if (retryableStatus && attempt <= req.retry.maxRetries) {
      if (retryAfterMs !== undefined && retryAfterMs > req.retry.maxDelayMs) {
        throw new ExecutorError(
          `${detail}; it asks to retry after ${retryAfterMs} ms, longer than the ${req.retry.maxDelayMs} ms cap`,
          { kind: "rate_limited", retryable: true, status, retryAfterMs, attempts: attempt },
        );
      }
      const delayMs = retryAfterMs ?? backoffMs(req.retry, attempt, random);
      req.onRetry?.({ attempt, delayMs, reason: rateLimited ? "rate_limited" : "server_error", status });
      await sleep(delayMs, req.signal, req.url, attempt);
      continue;
    }
    const exhausted = retryableStatus ? ` (gave up after ${attempt} attempt(s))` : "";
    throw new ExecutorError(`${detail}${exhausted}${hintFor(status)}`, {
      kind: rateLimited ? "rate_limited" : "http",
      retryable: retryableStatus,
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      attempts: attempt,
    });
  }
}

/** The queue's retry formula (capped exponential, equal jitter), applied to HTTP attempts. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  return retryDelayMs(attempt, { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs }, random);
}

/**
 * Milliseconds the server asked us to wait: OpenAI's `retry-after-ms`, else `retry-after` as
 * delta-seconds or an HTTP date. Undefined when absent or unparseable.
 */
export function parseRetryAfter(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

async function sleep(ms: number, signal: AbortSignal | undefined, url: string, attempt: number) {
  try {
    await sleepFor(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    throw new ExecutorError(`request to ${url} aborted by the caller while backing off`, {
      kind: "aborted",
      retryable: true,
      attempts: attempt,
      cause: error,
    });
  }
}

/** OpenAI and Anthropic both answer errors as {error: {message}}; fall back to the raw body. */
function errorMessageOf(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && "error" in parsed) {
      const error = parsed.error;
      if (typeof error === "string") return truncate(error);
      if (
        typeof error === "object" &&
        error !== null &&
        "message" in error &&
        typeof error.message === "string"
      ) {
        return truncate(error.message);
      }
    }
  } catch {
    // not JSON: show the text itself
  }
  return truncate(text) || "(empty body)";
}

function hintFor(status: number): string {
  if (status === 401 || status === 403) return "; check LLM_API_KEY (or OPENAI_API_KEY / ANTHROPIC_API_KEY)";
  if (status === 404) return "; check LLM_BASE_URL and LLM_MODEL";
  return "";
}

function truncate(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > MAX_ERROR_BODY_CHARS ? `${flat.slice(0, MAX_ERROR_BODY_CHARS)}…` : flat;
}

function causeText(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause;
    if (cause instanceof Error && cause.message) return `${error.message} (${cause.message})`;
    return error.message;
  }
  return String(error);
}

/** An attempt's client span (HTTP client semantic conventions); its context goes out in `headers`. */
function startAttemptSpan(req: PostJsonRequest, attempt: number, headers: Record<string, string>): Span {
  const url = new URL(req.url);
  const parent = context.active();
  const span = tracer().startSpan(
    `POST ${url.pathname}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        ...req.traceAttributes,
        [SEMCONV.HTTP_REQUEST_METHOD]: "POST",
        [SEMCONV.URL_FULL]: `${url.origin}${url.pathname}`,
        [SEMCONV.SERVER_ADDRESS]: url.hostname,
        [SEMCONV.SERVER_PORT]: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
        ...(attempt > 1 ? { [SEMCONV.HTTP_REQUEST_RESEND_COUNT]: attempt - 1 } : {}),
      },
    },
    parent,
  );
  propagation.inject(trace.setSpan(parent, span), headers);
  return span;
}

function endAttemptSpan(span: Span, status: number): void {
  span.setAttribute(SEMCONV.HTTP_RESPONSE_STATUS_CODE, status);
  if (status >= 400) failSpan(span, `HTTP ${status}`, String(status));
  span.end();
}
