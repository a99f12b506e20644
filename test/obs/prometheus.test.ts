/**
 * A real Prometheus scraping a local fleet (`agent-fleet dev`, the openai executor against a local
 * fake) while tasks go through it: successes on every agent and band, a task that fails for good
 * and one that is dead-lettered. Every dashboard query over the runtime's metrics must return a
 * series, every alert rule must evaluate without error, and the dead-letter alert must trip on the
 * dead task. Queries over kube-state-metrics or cAdvisor have no source here (no kubelet): they
 * are listed, and checked for syntax by promtool in dashboards.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { AGENT_TYPES, taskTypesOf } from "../../agent-runtime/src/catalog";
import { alertRuleGroups, ruleFileYaml } from "../../infra/observability/alerts";
import { dashboardQueries, fleetDashboards } from "../../infra/observability/dashboards";
import { stackConfig } from "../infra/support/stacks";
import { waitUntil } from "../runtime/support";
import {
  FAIL_HARD,
  FAIL_SOFT,
  finalStatus,
  startDevFleet,
  startFakeLlm,
  submitTask,
  type DevFleet,
  type FakeLlm,
} from "./support/fleet";
import { expressionMetricNames, runtimeMetricNames } from "./support/metric-names";
import { startPrometheus, type Prometheus } from "./support/prometheus";
import { obsTools } from "./support/tools";

const config = stackConfig("dev");
let llm: FakeLlm | undefined;
let fleet: DevFleet | undefined;
let prometheus: Prometheus | undefined;
const outcomes = new Map<string, string>();

beforeAll(async () => {
  const tools = obsTools();
  llm = await startFakeLlm();
  fleet = await startDevFleet({
    LLM_BASE_URL: llm.baseUrl,
    LLM_MODEL: "fake-llm",
    // One quick retry inside a call, so the dead-lettered task does not wait out the default backoff.
    LLM_MAX_RETRIES: "1",
  });
  const target = new URL(fleet.routerUrl).host;
  prometheus = await startPrometheus(tools.prometheus, {
    config: stringify({
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: ["rules.yml"],
      scrape_configs: [
        {
          job_name: "agent-fleet",
          // In a cluster, discovery labels every series with its pod's namespace and name; here
          // they are set: the dev process stands for an agent pod (it also serves the router's
          // gauges, which panels select by metric, not by pod).
          static_configs: [
            { targets: [target], labels: { namespace: config.namespace, pod: "agent-dev-local" } },
          ],
        },
      ],
    }),
    rules: ruleFileYaml(alertRuleGroups(config)),
  });

  // The dead-letter alert compares with the lowest count of its window: let Prometheus see the
  // fleet before any task runs.
  await waitUntil(
    async () => (await prometheus!.query(`agent_queue_dead{agent_type="backend"} == 0`)).length > 0,
    {
      timeoutMs: 120_000,
      intervalMs: 250,
      message: "Prometheus' first scrape of the fleet",
    },
  );
  const submitted: Promise<void>[] = [];
  for (const agent of AGENT_TYPES) {
    const type = taskTypesOf(agent)[0]!;
    for (const priority of [0, 1, 2, 3]) {
      submitted.push(
        submitTask(fleet.routerUrl, { type, prompt: `task for ${agent}`, priority }).then(async (id) => {
          outcomes.set(id, await finalStatus(fleet!.routerUrl, id));
        }),
      );
    }
  }
  const failHard = await submitTask(fleet.routerUrl, { type: taskTypesOf("python")[0]!, prompt: FAIL_HARD });
  const dead = await submitTask(fleet.routerUrl, {
    type: taskTypesOf("backend")[0]!,
    prompt: FAIL_SOFT,
    maxDeliveries: 1,
  });
  await Promise.all(submitted);
  outcomes.set(failHard, await finalStatus(fleet.routerUrl, failHard));
  outcomes.set(dead, await finalStatus(fleet.routerUrl, dead));
  expect([...outcomes.values()].filter((s) => s === "succeeded")).toHaveLength(AGENT_TYPES.length * 4);
  expect(outcomes.get(failHard)).toBe("failed");
  expect(outcomes.get(dead)).toBe("dead");
}, 600_000);

afterAll(async () => {
  await prometheus?.stop();
  await fleet?.stop();
  await llm?.stop();
});

describe("a real Prometheus scraping agent-fleet dev", () => {
  it("every dashboard query over the runtime's metrics returns a series", async () => {
    const runtime = await runtimeMetricNames();
    const external: string[] = [];
    let checked = 0;
    for (const dashboard of fleetDashboards(config)) {
      for (const { panel, check: expr } of dashboardQueries(dashboard)) {
        const names = expressionMetricNames(expr);
        if (!names.every((n) => runtime.has(n))) {
          external.push(`${panel}: ${names.filter((n) => !runtime.has(n)).join(", ")}`);
          continue;
        }
        checked++;
        // Rates need two scrapes after the tasks: wait for the series rather than for a time.
        await waitUntil(async () => (await prometheus!.query(expr)).length > 0, {
          timeoutMs: 120_000,
          intervalMs: 500,
          message: `a series for "${panel}": ${expr}`,
        });
      }
    }
    console.log(
      `dashboard queries with series: ${checked}; from cluster exporters only:\n  ${external.join("\n  ")}`,
    );
    expect(checked).toBeGreaterThan(0);
  });

  it("every alert rule evaluates on the scraped data without error", async () => {
    const expected = alertRuleGroups(config).flatMap((g) => g.rules.map((r) => r.alert));
    const rules = await waitUntil(
      async () => {
        const all = await prometheus!.rules();
        return all.length === expected.length && all.every((r) => !r.lastEvaluation.startsWith("0001"))
          ? all
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, message: "every rule to be evaluated" },
    );
    expect(rules.map((r) => r.name).sort()).toEqual([...expected].sort());
    expect(
      rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.lastError ?? r.health}`),
    ).toEqual([]);
  });

  it("the dead-lettered task trips the dead-letter alert, on the backend agent only", async () => {
    const alert = await waitUntil(
      async () => {
        const rules = await prometheus!.rules();
        const dlq = rules.find((r) => r.name === DEAD_LETTER_ALERT);
        return dlq && dlq.state !== "inactive" ? dlq : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, message: `${DEAD_LETTER_ALERT} to be pending or firing` },
    );
    const active = (alert as { alerts?: { labels: Record<string, string> }[] }).alerts ?? [];
    expect(active.map((a) => a.labels.agent_type)).toEqual(["backend"]);
  });
});

const DEAD_LETTER_ALERT = "AgentDeadLetters";
