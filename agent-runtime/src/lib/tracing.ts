/**
 * Distributed tracing (OpenTelemetry), off unless an OTLP endpoint is configured.
 *
 * Off — the default — this module loads nothing but `@opentelemetry/api`, whose global tracer is
 * a no-op, and `tracingActive()` is false so the hot paths (worker, queue, executors) skip even
 * the no-op calls. On, `startTracing()` imports ./tracing-sdk (the SDK, the OTLP/HTTP exporter, a
 * batch span processor, the W3C propagator) and registers it for the whole process; its
 * `shutdown()` flushes the spans still buffered, so every drain path calls it last.
 *
 * What the spans are and how a task's trace crosses the queue: docs/operations.md ("Tracing").
 */
import {
  context,
  diag,
  DiagLogLevel,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from "@opentelemetry/api";
import { z } from "zod";
import { RUNTIME_ENV } from "../contract";
import { errorFields, errorMessage, type Logger } from "./log";
import { withTimeout } from "./timeout";

export { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace };
export type { Attributes, Context, Span };

/** The OTEL_TRACES_SAMPLER values the runtime accepts (the OpenTelemetry names). */
export const TRACE_SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

const OTLP_URL_ERROR =
  "must be the http:// or https:// URL of an OTLP/HTTP receiver, e.g. http://otel-collector:4318";
const otlpUrl = z.url({ protocol: /^https?$/, error: OTLP_URL_ERROR }).optional();

/**
 * The tracing variables, spread into the worker's and the router's env schemas (lib/env.ts
 * parses them: an error names the variable). The standard OpenTelemetry names, so a collector
 * sidecar's usual settings apply as they are.
 */
export const TracingEnvShape = {
  /** Turns tracing on: spans go to `<endpoint>/v1/traces` (OTLP over HTTP, protobuf-free JSON). */
  [RUNTIME_ENV.OTEL_EXPORTER_OTLP_ENDPOINT]: otlpUrl,
  /** The full traces URL, when it is not `<endpoint>/v1/traces`; also turns tracing on. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrl,
  /** Default: `task-router`, `agent-<type>`, or `agent-fleet-dev` for the local fleet. */
  [RUNTIME_ENV.OTEL_SERVICE_NAME]: z.string().min(1).max(255).optional(),
  [RUNTIME_ENV.OTEL_TRACES_SAMPLER]: z
    .enum(TRACE_SAMPLERS, { error: `must be one of ${TRACE_SAMPLERS.join(", ")}` })
    .default("parentbased_always_on"),
  /** The ratio of the *traceidratio samplers, 0..1 (default 1). */
  [RUNTIME_ENV.OTEL_TRACES_SAMPLER_ARG]: z.coerce
    .number<string>({ error: "must be a number from 0 to 1, e.g. 0.1" })
    .min(0, "must be a number from 0 to 1, e.g. 0.1")
    .max(1, "must be a number from 0 to 1, e.g. 0.1")
    .optional(),
};
type TracingEnv = z.output<z.ZodObject<typeof TracingEnvShape>>;

export interface TracingSettings {
  /** Where spans go; undefined: tracing off. */
  tracesUrl: string | undefined;
  serviceName: string | undefined;
  sampler: TraceSampler;
  /** For the *traceidratio samplers. */
  ratio: number;
}

export function tracingSettingsFromEnv(env: TracingEnv): TracingSettings {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return {
    tracesUrl:
      env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base.replace(/\/+$/, "")}/v1/traces` : undefined),
    serviceName: env.OTEL_SERVICE_NAME,
    sampler: env.OTEL_TRACES_SAMPLER,
    ratio: env.OTEL_TRACES_SAMPLER_ARG ?? 1,
  };
}

/** The process's tracing, as startTracing() set it up. */
export interface Tracing {
  readonly enabled: boolean;
  /** Exports the buffered spans now. */
  forceFlush(): Promise<void>;
  /** Flushes, stops exporting and unregisters (so a test may start again). Idempotent; never throws. */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /** OTEL_SERVICE_NAME wins over it. */
  defaultServiceName: string;
  logger: Logger;
  /**
   * Export here instead of OTLP (tests, the benchmark). Turns tracing on even without a URL; an
   * exporter with `export()` and `shutdown()` as in @opentelemetry/sdk-trace's SpanExporter.
   */
  exporter?: unknown;
  /** Spans go out when the batch fills or after this long (default 5000 ms, OTEL_BSP_SCHEDULE_DELAY). */
  scheduledDelayMs?: number;
  /** How long shutdown() may spend exporting what is left (default 5000 ms). */
  shutdownTimeoutMs?: number;
}

const TRACING_OFF: Tracing = {
  enabled: false,
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

let active = false;

/** True once startTracing() has registered an SDK in this process. Hot paths check it first. */
export function tracingActive(): boolean {
  return active;
}

/**
 * Off (no URL, no exporter): resolves at once, loads nothing. On: loads and registers the SDK.
 * One tracing per process; a second start before shutdown() throws.
 */
export async function startTracing(
  settings: TracingSettings,
  options: StartTracingOptions,
): Promise<Tracing> {
  if (settings.tracesUrl === undefined && options.exporter === undefined) return TRACING_OFF;
  if (active) throw new Error("tracing is already started in this process; shut it down first");
  active = true;
  try {
    const log = options.logger.child({ component: "tracing" });
    diag.setLogger(
      {
        error: (message, ...args) => log.warn({ detail: args.map(errorMessage) }, `tracing: ${message}`),
        warn: (message, ...args) => log.warn({ detail: args.map(errorMessage) }, `tracing: ${message}`),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    // The SDK is loaded only here: a process with tracing off never loads it.
    const sdk = await import("./tracing-sdk.js");
    const provider = sdk.registerTracing({
      ...settings,
      serviceName: settings.serviceName ?? options.defaultServiceName,
      exporter: options.exporter,
      scheduledDelayMs: options.scheduledDelayMs,
    });
    const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5_000;
    let stopping: Promise<void> | undefined;
    return {
      enabled: true,
      forceFlush: () => provider.forceFlush(),
      shutdown: () =>
        (stopping ??= (async () => {
          try {
            await withTimeout(provider.shutdown(), shutdownTimeoutMs, "exporting the last spans");
          } catch (error) {
            log.warn(errorFields(error), "tracing: the last spans were not exported");
          } finally {
            unregister();
          }
        })()),
    };
  } catch (error) {
    unregister();
    throw error;
  }
}

function unregister(): void {
  trace.disable();
  context.disable();
  propagation.disable();
  diag.disable();
  active = false;
}

// ------------------------------------------------------------------ attributes

/**
 * The runtime's own attributes, on every span of a task: search a trace by task id with
 * `agent_fleet.task.id=<id>` (Jaeger: Tags).
 */
export const TASK_ATTRIBUTES = {
  id: "agent_fleet.task.id",
  type: "agent_fleet.task.type",
  agent: "agent_fleet.agent.type",
  priority: "agent_fleet.task.priority",
  /** This delivery's number (1 on the first claim). */
  delivery: "agent_fleet.task.delivery",
  /** How the delivery ended: succeeded, retrying, failed, dead, lease_lost, released. */
  outcome: "agent_fleet.task.outcome",
  /** A submit whose id was already queued: nothing enqueued, the task keeps its first trace. */
  duplicate: "agent_fleet.task.duplicate",
} as const;

/**
 * The OpenTelemetry semantic-convention names the runtime sets, spelled out so that the hot paths
 * do not load @opentelemetry/semantic-conventions (664 exports) while tracing is off; a test checks
 * them against that package's constants.
 */
export const SEMCONV = {
  HTTP_REQUEST_METHOD: "http.request.method",
  HTTP_ROUTE: "http.route",
  HTTP_RESPONSE_STATUS_CODE: "http.response.status_code",
  HTTP_REQUEST_RESEND_COUNT: "http.request.resend_count",
  URL_FULL: "url.full",
  URL_PATH: "url.path",
  SERVER_ADDRESS: "server.address",
  SERVER_PORT: "server.port",
  ERROR_TYPE: "error.type",
  MESSAGING_SYSTEM: "messaging.system",
  MESSAGING_OPERATION_TYPE: "messaging.operation.type",
  MESSAGING_DESTINATION_NAME: "messaging.destination.name",
  MESSAGING_MESSAGE_ID: "messaging.message.id",
  GEN_AI_REQUEST_MODEL: "gen_ai.request.model",
  GEN_AI_PROVIDER_NAME: "gen_ai.provider.name",
} as const;

export function taskAttributes(task: {
  id: string;
  agent?: string;
  type?: string;
  priority?: number;
}): Attributes {
  const attributes: Attributes = { [TASK_ATTRIBUTES.id]: task.id };
  if (task.agent !== undefined) attributes[TASK_ATTRIBUTES.agent] = task.agent;
  if (task.type !== undefined) attributes[TASK_ATTRIBUTES.type] = task.type;
  if (task.priority !== undefined) attributes[TASK_ATTRIBUTES.priority] = task.priority;
  return attributes;
}

/** Adds attributes to the span of the current context (a traced route's), if tracing is on. */
export function annotateActiveSpan(attributes: Attributes): void {
  if (!active) return;
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** Marks a span failed with the error's class and message. */
export function failSpan(span: Span, error: unknown, type?: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
  span.setAttribute(
    SEMCONV.ERROR_TYPE,
    type ?? (error instanceof Error ? error.name : typeof error === "string" ? "Error" : "unknown"),
  );
}

/** The runtime's tracer (the API's no-op one until startTracing() registers the SDK). */
export function tracer() {
  return trace.getTracer("agent-fleet");
}

// ------------------------------------------------------------------ W3C trace context

/** W3C trace context as stored with a task: the header names and values. */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

/** `version-traceid-parentid-flags`, lowercase hex (W3C Trace Context level 1). */
export const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/**
 * A tracestate the queue can store: at most 512 characters, none of `"`, `\`, `{` or `}`, which
 * the payload's JSON (written by Lua without an encoder, nothing but the input after a `{`) must
 * not contain. W3C values may hold them; such a tracestate is dropped, the traceparent kept.
 */
export const TRACESTATE_PATTERN = /^[\x20-\x21\x23-\x5b\x5d-\x7a\x7c\x7e]{1,512}$/;

/**
 * The current context as a carrier for the queue, or undefined (tracing off, or no span). A
 * tracestate the queue cannot store is left out.
 */
export function currentTraceCarrier(): TraceCarrier | undefined {
  if (!active) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const traceparent = carrier.traceparent;
  if (traceparent === undefined || !TRACEPARENT_PATTERN.test(traceparent)) return undefined;
  const tracestate = carrier.tracestate;
  return tracestate !== undefined && TRACESTATE_PATTERN.test(tracestate)
    ? { traceparent, tracestate }
    : { traceparent };
}

/** The context a carrier (a task's stored trace context, request headers) continues. */
export function contextFrom(carrier: object | undefined): Context {
  return carrier === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, carrier);
}
