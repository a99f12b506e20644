/**
 * The OpenTelemetry SDK half of ./tracing: imported by startTracing() only, so a process with
 * tracing off never loads it. Registers, for the whole process, a tracer provider (the sampler
 * OTEL_TRACES_SAMPLER names, a batch span processor, OTLP/HTTP export), the W3C trace-context
 * propagator and an AsyncLocalStorage context manager (so an executor's HTTP span finds the
 * task span it runs under across awaits).
 */
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { TraceSampler, TracingSettings } from "./tracing";

export interface SdkSettings extends TracingSettings {
  serviceName: string;
  exporter: unknown;
  scheduledDelayMs: number | undefined;
}

export function registerTracing(settings: SdkSettings): TracerProvider {
  const exporter =
    (settings.exporter as SpanExporter | undefined) ?? new OTLPTraceExporter({ url: settings.tracesUrl });
  // OTEL_RESOURCE_ATTRIBUTES (e.g. k8s.pod.name from the downward API) adds to the service name.
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const provider = new TracerProvider({
    resource,
    sampler: samplerOf(settings.sampler, settings.ratio),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        ...(settings.scheduledDelayMs === undefined
          ? {}
          : { scheduledDelayMillis: settings.scheduledDelayMs }),
      }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return provider;
}

/** The sampler an OTEL_TRACES_SAMPLER value names; parent-based ones follow an incoming traceparent. */
export function samplerOf(name: TraceSampler, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}
