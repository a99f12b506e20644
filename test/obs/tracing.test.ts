/**
 * Traces in a real Jaeger (all-in-one, in-memory storage, built by test/e2e/toolchain.sh): the
 * local fleet (`agent-fleet dev`, router + 12 agents in one process) exports OTLP/HTTP to Jaeger's
 * receiver, its agents call a local fake OpenAI-compatible server, one task is submitted, and
 * Jaeger's query API must return one trace holding the router's submit span, the queue wait, the
 * worker's delivery and the model call — each with the task id — parented as documented.
 * Every process is started here on free loopback ports and killed by PID in afterAll.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, ScriptProcess, startFakeLlm, waitUntil, type FakeLlm } from "../runtime/support";
import { startDevFleet, type DevFleet } from "./support/fleet";
import { obsTools } from "./support/tools";

const SERVICE = "agent-fleet-obs-test";
const TASK_ID = `trace-obs-${process.pid}`;

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
  startTime: number;
}

let dir: string;
let jaeger: ScriptProcess | undefined;
let dev: DevFleet | undefined;
let llm: FakeLlm | undefined;
let queryUrl: string;
let otlpUrl: string;

function jaegerConfig(otlpPort: number, queryPort: number, queryGrpcPort: number): string {
  return [
    "service:",
    "  extensions: [jaeger_storage, jaeger_query]",
    "  pipelines:",
    "    traces:",
    "      receivers: [otlp]",
    "      processors: [batch]",
    "      exporters: [jaeger_storage_exporter]",
    "  telemetry:",
    "    metrics:",
    "      level: none",
    "    logs:",
    "      level: warn",
    "extensions:",
    "  jaeger_storage:",
    "    backends:",
    "      memstore:",
    "        memory:",
    "          max_traces: 10000",
    "  jaeger_query:",
    "    storage:",
    "      traces: memstore",
    "    http:",
    `      endpoint: 127.0.0.1:${queryPort}`,
    "    grpc:",
    `      endpoint: 127.0.0.1:${queryGrpcPort}`,
    "receivers:",
    "  otlp:",
    "    protocols:",
    "      http:",
    `        endpoint: 127.0.0.1:${otlpPort}`,
    "processors:",
    "  batch:",
    "    timeout: 100ms",
    "exporters:",
    "  jaeger_storage_exporter:",
    "    trace_storage: memstore",
    "",
  ].join("\n");
}

beforeAll(async () => {
  const tools = obsTools();
  dir = mkdtempSync(path.join(tmpdir(), "obs-tracing-"));
  const [otlpPort, queryPort, queryGrpcPort] = [await freePort(), await freePort(), await freePort()];
  const config = path.join(dir, "jaeger.yaml");
  writeFileSync(config, jaegerConfig(otlpPort, queryPort, queryGrpcPort));
  jaeger = new ScriptProcess(
    spawn(tools.jaeger, [`--config=file:${config}`], { stdio: ["ignore", "pipe", "pipe"] }),
    process.env.FLEET_TEST_VERBOSE === "1",
  );
  queryUrl = `http://127.0.0.1:${queryPort}`;
  otlpUrl = `http://127.0.0.1:${otlpPort}`;
  await waitUntil(
    async () => {
      if (!jaeger?.running) throw new Error(`jaeger exited early:\n${jaeger?.output.join("\n")}`);
      const up = await fetch(`${queryUrl}/api/services`).then(
        (r) => r.ok,
        () => false,
      );
      return up || undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, message: "Jaeger's query API" },
  );

  llm = await startFakeLlm("traced answer");
  dev = await startDevFleet({
    LLM_BASE_URL: llm.baseUrl,
    LLM_MODEL: "fake-llm",
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
    OTEL_SERVICE_NAME: SERVICE,
    OTEL_BSP_SCHEDULE_DELAY: "200",
  });
});

afterAll(async () => {
  await dev?.stop();
  await jaeger?.kill9();
  await llm?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("tracing into a real Jaeger", () => {
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

    // Found the way an operator would: by service and the task id tag.
    const tags = encodeURIComponent(JSON.stringify({ "agent_fleet.task.id": TASK_ID }));
    const spans = await waitUntil(
      async () => {
        const response = await fetch(
          `${queryUrl}/api/traces?service=${SERVICE}&tags=${tags}&limit=20&lookback=1h`,
        );
        if (!response.ok) return undefined;
        const body = (await response.json()) as { data: { traceID: string; spans: JaegerSpan[] }[] };
        const trace = body.data.find((t) => t.traceID === traceId);
        const names = new Set(trace?.spans.map((s) => s.operationName));
        const wanted = ["POST /v1/tasks", "queue wait", "process reviewer", "POST /v1/chat/completions"];
        return wanted.every((n) => names.has(n)) ? trace!.spans : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, message: `the trace of ${TASK_ID} in Jaeger` },
    );
    const byName = (name: string) => spans.find((s) => s.operationName === name)!;
    const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
    for (const name of ["POST /v1/tasks", "queue wait", "process reviewer", "POST /v1/chat/completions"]) {
      const span = byName(name);
      expect(tag(span, "agent_fleet.task.id"), name).toBe(TASK_ID);
      expect(tag(span, "agent_fleet.agent.type"), name).toBe("reviewer");
      expect(tag(span, "agent_fleet.task.priority"), name).toBe(1);
    }
    const parentOf = (span: JaegerSpan) => span.references.find((r) => r.refType === "CHILD_OF")?.spanID;
    const submit = byName("POST /v1/tasks");
    expect(parentOf(byName("queue wait"))).toBe(submit.spanID);
    expect(parentOf(byName("process reviewer"))).toBe(submit.spanID);
    expect(parentOf(byName("POST /v1/chat/completions"))).toBe(byName("process reviewer").spanID);
    // The model server received the model call's context.
    expect(llm!.requests.at(-1)!.headers.traceparent).toBe(
      `00-${traceId!}-${byName("POST /v1/chat/completions").spanID}-01`,
    );

    // A drain flushes what is left and the fleet stops cleanly.
    dev!.process.kill("SIGINT");
    expect((await dev!.process.exited).code).toBe(0);
  });
});
