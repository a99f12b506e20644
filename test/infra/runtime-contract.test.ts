/**
 * The contract between what infra renders and what the runtime accepts, checked end to end: every
 * agent's environment (its ConfigMap plus the container's env) and the router's of every stack go
 * through the runtime's own env parsers and executor settings, and the metric every HPA scales on
 * must be one the router's gauges export. A name or value that drifts on either side fails here.
 */
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentEnvSchema } from "../../agent-runtime/src/agent/main";
import { AGENT_TYPES, taskTypesOf, type AgentType } from "../../agent-runtime/src/catalog";
import { INFORMATIONAL_ENV } from "../../agent-runtime/src/contract";
import { ExecutorEnvSchema, resolveExecutorSettings } from "../../agent-runtime/src/executors/config";
import { parseRouterEnv, RouterEnvSchema } from "../../agent-runtime/src/router/config";
import { QueueGauges } from "../../agent-runtime/src/router/metrics";
import { loadWorkerEnv, WorkerEnvSchema } from "../../agent-runtime/src/worker/env";
import type { RenderResult } from "../../infra/render/render";
import {
  byName,
  manifests,
  podSpec,
  renderStackConfig,
  type Container,
  type Manifest,
} from "./support/stacks";

const STACKS = ["dev", "staging", "prod", "e2e"] as const;

/** Every variable a runtime process reads, by process. */
const AGENT_KEYS = new Set([
  ...Object.keys(WorkerEnvSchema.shape),
  ...Object.keys(ExecutorEnvSchema.shape),
  ...Object.keys(AgentEnvSchema.shape),
  ...INFORMATIONAL_ENV,
]);
const ROUTER_KEYS = new Set(Object.keys(RouterEnvSchema.shape));

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };

/**
 * The environment a container starts with: its envFrom ConfigMaps, then its env. Values from a
 * Secret are stand-ins (render never holds them) that name the Secret key they come from.
 */
function containerEnv(
  r: RenderResult,
  container: Container & { envFrom?: { configMapRef?: { name: string } }[] },
) {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const name = from.configMapRef?.name;
    if (name === undefined) throw new Error(`${container.name}: envFrom other than a ConfigMap`);
    Object.assign(env, byName(r, "ConfigMap", name).data as Record<string, string>);
  }
  for (const v of (container.env ?? []) as EnvVar[]) {
    const ref = v.valueFrom?.secretKeyRef;
    if (v.value === undefined && ref === undefined)
      throw new Error(`${container.name}: ${v.name} has no value`);
    env[v.name] = v.value ?? `stand-in-for-${ref?.name}-${ref?.key}-0123456789`;
  }
  return env;
}

function unknownKeys(env: Record<string, string>, known: ReadonlySet<string>): string[] {
  return Object.keys(env).filter((k) => !known.has(k));
}

const rendered = new Map<string, RenderResult>();
beforeAll(async () => {
  for (const stack of STACKS) rendered.set(stack, await renderStackConfig(stack));
}, 120_000);
afterAll(() => rendered.clear());
const render = (stack: string) => rendered.get(stack) as RenderResult;

/** The agent workloads of a stack: their pods run `worker --agent <type>`. */
function agentWorkloads(r: RenderResult): Manifest[] {
  return ["Deployment", "StatefulSet"]
    .flatMap((kind) => manifests(r, kind))
    .filter((m) => m.metadata.labels?.["app.kubernetes.io/component"] === "agent");
}

describe.each(STACKS)("stack %s: what infra renders, the runtime accepts", (stack) => {
  it("every agent's environment passes the worker's, the agent's and the executor's parsers", () => {
    const r = render(stack);
    const workloads = agentWorkloads(r);
    // Twelve agents, plus the python canary of prod and e2e.
    expect(workloads.length).toBe({ dev: 12, staging: 12, prod: 13, e2e: 13 }[stack]);
    const executors: string[] = [];
    for (const w of workloads) {
      const pod = podSpec(w) as ReturnType<typeof podSpec> & { terminationGracePeriodSeconds: number };
      const container = pod.containers.find((c) => c.name === "agent");
      if (!container) throw new Error(`${w.metadata.name} has no agent container`);
      const env = containerEnv(r, container);
      const where = `${stack} ${w.metadata.name}`;
      expect(unknownKeys(env, AGENT_KEYS), `${where}: variables no runtime parser reads`).toEqual([]);

      const worker = loadWorkerEnv(env);
      const agent = container.args?.[2] as AgentType;
      expect(container.args, where).toEqual(["worker", "--agent", worker.AGENT_TYPE]);
      expect(env.TASK_TYPES, where).toBe(taskTypesOf(agent).join(","));
      const http = (container as Container & { ports: { name: string; containerPort: number }[] }).ports;
      expect(http, where).toEqual([{ name: "http", containerPort: worker.PORT }]);
      expect(worker.DRAIN_TIMEOUT_SECONDS, where).toBeLessThan(pod.terminationGracePeriodSeconds);

      const settings = resolveExecutorSettings(agent, env);
      expect(settings.kind, where).toBe(env.EXECUTOR);
      // A local model is served by the sidecar infra configured; a hosted API gets the Secret's key.
      const target = { echo: "", openai: settings.baseUrl, anthropic: settings.apiKey }[settings.kind];
      executors.push(`${settings.kind} ${target}`);
    }
    const local = "openai http://127.0.0.1:8081/v1";
    const hosted = "anthropic stand-in-for-llm-api-keys-ANTHROPIC_API_KEY-0123456789";
    const expected = {
      dev: { "echo ": 12 },
      staging: { [local]: 2, [hosted]: 10 },
      prod: { [local]: 3, [hosted]: 10 },
      e2e: { [local]: 3, [hosted]: 10 },
    }[stack];
    expect(counts(executors)).toEqual(expected);
  });

  it("the router's environment passes the router's parser and points at the mounted tokens", () => {
    const r = render(stack);
    const pod = podSpec(byName(r, "Deployment", "task-router"));
    const volumes = (pod.volumes ?? []) as { name: string; secret?: { secretName: string } }[];
    const container = pod.containers.find((c) => c.name === "router");
    if (!container) throw new Error("task-router has no router container");
    const env = containerEnv(r, container);
    expect(unknownKeys(env, ROUTER_KEYS), `${stack} task-router: variables the router does not read`).toEqual(
      [],
    );
    const router = parseRouterEnv(env);
    const http = (container as Container & { ports: { name: string; containerPort: number }[] }).ports;
    expect(http).toEqual([{ name: "http", containerPort: router.PORT }]);
    // The tokens file sits in the volume of the Secret that holds them, under the Secret's key.
    const file = router.ROUTER_TOKENS_FILE ?? "";
    const mount = container.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
    const volume = volumes.find((v) => v.name === mount?.name);
    const secret = byName(r, "Secret", volume?.secret?.secretName ?? "(none)");
    expect(Object.keys(secret.stringData as object)).toEqual([
      file.slice((mount?.mountPath.length ?? 0) + 1),
    ]);
  });

  it("every HPA and the adapter scale on a metric the router exports, selected by its agent label", async () => {
    const r = render(stack);
    const hpas = manifests(r, "HorizontalPodAutoscaler");
    expect(hpas.length).toBe(r.config.autoscaling.mode === "hpa" ? 12 : 0);
    const exported = await routerMetrics();
    for (const hpa of hpas) {
      const external = (hpa.spec as { metrics: { external?: External }[] }).metrics.flatMap((m) =>
        m.external ? [m.external] : [],
      );
      expect(external, hpa.metadata.name).toHaveLength(1);
      const [{ metric }] = external as [External];
      const [label, agent] = Object.entries(metric.selector.matchLabels)[0] ?? [];
      expect(exported, hpa.metadata.name).toContain(`${metric.name}{${label}="${agent}"}`);
    }
    const adapter = r.others.find((o) => o.name === "observability-adapter");
    if (!r.config.observability.adapter.install) {
      expect(adapter).toBeUndefined();
      return;
    }
    const rules = (adapter?.inputs.values as { rules: { external: { name: { as: string } }[] } }).rules;
    expect(rules.external).toHaveLength(1);
    expect(exported.some((line) => line.startsWith(`${rules.external[0]?.name.as}{`))).toBe(true);
  });
});

function counts(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

type External = { metric: { name: string; selector: { matchLabels: Record<string, string> } } };

/** The router's queue gauges as Prometheus scrapes them: `name{labels}` of every series. */
async function routerMetrics(): Promise<string[]> {
  const registry = new Registry();
  new QueueGauges(registry, async () =>
    AGENT_TYPES.map((agent) => ({
      agent,
      ready: { P0: 0, P1: 1, P2: 2, P3: 0 },
      inFlight: 1,
      delayed: 0,
      dead: 0,
      oldestReadyAgeSeconds: 3,
      oldestReadyAgeByPriority: { P0: null, P1: 3, P2: 1, P3: null },
    })),
  );
  const text = await registry.metrics();
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.replace(/ [^ ]+$/, ""));
}
