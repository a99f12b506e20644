/**
 * Tracing for runtime tests: an in-memory exporter from the runtime's own copy of the SDK
 * (agent-runtime/node_modules; the repository root holds other OpenTelemetry versions for Pulumi).
 */
import { createRequire } from "node:module";
import path from "node:path";
import { REPO_ROOT } from "./child-process";

/** The fields of an SDK ReadableSpan the tests read. */
export interface FinishedSpan {
  name: string;
  kind: number;
  spanContext(): { traceId: string; spanId: string; traceFlags: number };
  parentSpanContext?: { traceId: string; spanId: string };
  attributes: Record<string, unknown>;
  links: { context: { traceId: string; spanId: string } }[];
  status: { code: number; message?: string };
  startTime: [number, number];
  endTime: [number, number];
}

export interface MemoryExporter {
  getFinishedSpans(): FinishedSpan[];
  reset(): void;
}

const runtimeRequire = createRequire(path.join(REPO_ROOT, "agent-runtime", "package.json"));

export function memoryExporter(): MemoryExporter {
  const sdk = runtimeRequire("@opentelemetry/sdk-trace") as {
    InMemorySpanExporter: new () => MemoryExporter;
  };
  return new sdk.InMemorySpanExporter();
}

/** [seconds, nanoseconds] → Unix ms. */
export function hrMs(time: [number, number]): number {
  return time[0] * 1000 + time[1] / 1e6;
}
