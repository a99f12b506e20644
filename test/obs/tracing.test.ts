/**
 * Traces through a real OpenTelemetry Collector running the stack's pipeline: the local fleet
 * (`agent-fleet dev`, router + 12 agents in one process, its agents calling a local fake
 * OpenAI-compatible server) exports OTLP/HTTP to "the stack's collector", which runs exactly the
 * pipeline the program gives the opentelemetry-collector chart (collectorConfig: otlp ->
 * memory_limiter, batch -> otlphttp) over the chart's default receiver and processors. It forwards
 * to "the tracing backend", a second collector that writes what it receives to a file (the contrib
 * file exporter). One task is submitted; the backend must hold one trace with the router's submit
 * span, the queue wait, the worker's delivery and the model call, each with the task id, parented
 * as documented (docs/operations.md, "Tracing a task").
 * Both collectors are built by test/e2e/toolchain.sh (test/obs/otelcol). Every process is started
 * here on free loopback ports and killed by PID in afterAll.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectorConfig } from "../../infra/components/platform/observability";
import { freePort, ScriptProcess, startFakeLlm, waitUntil, type FakeLlm } from "../runtime/support";
import { startDevFleet, type DevFleet } from "./support/fleet";
import { obsTools } from "./support/tools";

const SERVICE = "agent-fleet-obs-test";
const TASK_ID = `trace-obs-${process.pid}`;
const WANTED = ["POST /v1/tasks", "queue wait", "process reviewer", "POST /v1/chat/completions"];

/** A span as OTLP's JSON encoding writes it (the file exporter's format). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: OtlpAttribute[];
}
interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };
}
interface OtlpExport {
  resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

let dir: string;
const collectors: ScriptProcess[] = [];
let dev: DevFleet | undefined;
let llm: FakeLlm | undefined;
let spansFile: string;

/** Starts the collector with `config` (YAML's JSON subset) and waits until its OTLP/HTTP receiver answers. */
async function startCollector(name: string, config: object, otlpUrl: string): Promise<void> {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  const collector = new ScriptProcess(
    spawn(obsTools().otelcol, [`--config=file:${file}`], { stdio: ["ignore", "pipe", "pipe"] }),
    process.env.FLEET_TEST_VERBOSE === "1",
  );
  collectors.push(collector);
  await waitUntil(
    async () => {
      if (!collector.running)
        throw new Error(`the ${name} collector exited early:\n${collector.output.join("\n")}`);
      const answered = await fetch(`${otlpUrl}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      }).then(
        (r) => r.ok,
        () => false,
      );
      return answered || undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, message: `the ${name} collector's OTLP/HTTP receiver` },
  );
}

const quiet = { telemetry: { metrics: { level: "none" }, logs: { level: "warn" } } };
const otlpReceiver = (port: number) => ({ otlp: { protocols: { http: { endpoint: `127.0.0.1:${port}` } } } });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "obs-tracing-"));
  spansFile = path.join(dir, "backend-spans.jsonl");
  const [backendPort, stackPort] = [await freePort(), await freePort()];
  const backendUrl = `http://127.0.0.1:${backendPort}`;
  const stackUrl = `http://127.0.0.1:${stackPort}`;

  await startCollector(
    "backend",
    {
      receivers: otlpReceiver(backendPort),
      exporters: { file: { path: spansFile, flush_interval: "100ms" } },
      service: { pipelines: { traces: { receivers: ["otlp"], exporters: ["file"] } }, ...quiet },
    },
    backendUrl,
  );
  // The stack's collector: the chart's defaults for what the program's pipeline names (its otlp
  // receiver, here on loopback instead of the pod IP; its memory_limiter and batch settings), then
  // the program's own config, merged over them as the chart does.
  const stack = collectorConfig(backendUrl);
  await startCollector(
    "stack",
    {
      receivers: otlpReceiver(stackPort),
      processors: {
        memory_limiter: { check_interval: "5s", limit_percentage: 80, spike_limit_percentage: 25 },
        batch: {},
      },
      exporters: stack.exporters,
      service: { ...stack.service, ...quiet },
    },
    stackUrl,
  );

  llm = await startFakeLlm("traced answer");
  dev = await startDevFleet({
    LLM_BASE_URL: llm.baseUrl,
    LLM_MODEL: "fake-llm",
    OTEL_EXPORTER_OTLP_ENDPOINT: stackUrl,
    OTEL_SERVICE_NAME: SERVICE,
    OTEL_BSP_SCHEDULE_DELAY: "200",
  });
});

afterAll(async () => {
  await dev?.stop();
  for (const collector of collectors) await collector.kill9();
  await llm?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every span of `traceId` the backend has written so far, with its resource's service name. */
function backendSpans(traceId: string): { service: string | undefined; span: OtlpSpan }[] {
  if (!existsSync(spansFile)) return [];
  const found: { service: string | undefined; span: OtlpSpan }[] = [];
  for (const line of readFileSync(spansFile, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const batch = JSON.parse(line) as OtlpExport;
    for (const rs of batch.resourceSpans ?? []) {
      const service = attribute(rs.resource?.attributes, "service.name");
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          if (span.traceId === traceId)
            found.push({ service: typeof service === "string" ? service : undefined, span });
        }
      }
    }
  }
  return found;
}

function attribute(
  attributes: OtlpAttribute[] | undefined,
  key: string,
): string | number | boolean | undefined {
  const value = attributes?.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue;
}

describe("tracing through the stack's collector pipeline", () => {
  it("one trace holds the router's submit, the queue wait, the worker's delivery and the model call", async () => {
    const routerUrl = dev!.routerUrl;
    const submitted = await fetch(`${routerUrl}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: TASK_ID,
        type: "code-review",
        priority: "high",
        input: { prompt: "trace me" },
      }),
    });
    expect(submitted.status).toBe(202);
    const record = await waitUntil(
      async () => {
        const task = (await (await fetch(`${routerUrl}/v1/tasks/${TASK_ID}`)).json()) as {
          status: string;
          traceparent?: string;
          result?: { output: string };
        };
        return task.status === "succeeded" ? task : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, message: `task ${TASK_ID} succeeded` },
    );
    expect(record.result?.output).toBe("traced answer");
    const traceId = record.traceparent?.split("-")[1];
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    // Through both collectors: the stack's batches and forwards, the backend writes.
    const spans = await waitUntil(
      () => {
        const found = backendSpans(traceId!);
        const names = new Set(found.map((s) => s.span.name));
        return WANTED.every((n) => names.has(n)) ? found : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, message: `the trace of ${TASK_ID} at the tracing backend` },
    );
    const found = (name: string) => spans.find((s) => s.span.name === name)!;
    const byName = (name: string) => found(name).span;
    for (const name of WANTED) {
      const { service, span } = found(name);
      expect(service, name).toBe(SERVICE);
      expect(attribute(span.attributes, "agent_fleet.task.id"), name).toBe(TASK_ID);
      expect(attribute(span.attributes, "agent_fleet.agent.type"), name).toBe("reviewer");
      expect(attribute(span.attributes, "agent_fleet.task.priority"), name).toBe(1);
    }
    const submit = byName("POST /v1/tasks");
    expect(byName("queue wait").parentSpanId).toBe(submit.spanId);
    expect(byName("process reviewer").parentSpanId).toBe(submit.spanId);
    expect(byName("POST /v1/chat/completions").parentSpanId).toBe(byName("process reviewer").spanId);
    // The model server received the model call's context.
    expect(llm!.requests.at(-1)!.headers.traceparent).toBe(
      `00-${traceId!}-${byName("POST /v1/chat/completions").spanId}-01`,
    );

    // A drain flushes what is left and the fleet stops cleanly.
    dev!.process.kill("SIGINT");
    expect((await dev!.process.exited).code).toBe(0);
  });
});
