/**
 * The alert rules as data, without promtool (test/obs/alerts.test.ts runs the real one): they
 * read only metrics that exist, link to a runbook section that exists, and follow stack config.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { TASK_OUTCOMES } from "../../../agent-runtime/src/lib/metrics";
import type { FleetConfig } from "../../../infra/config/resolve";
import {
  ALERT_NAMES,
  alertRuleGroups,
  durationSeconds,
  ruleFileYaml,
  runbookAnchor,
  type AlertRule,
} from "../../../infra/observability/alerts";
import { EXTERNAL_METRIC_NAMES } from "../../../infra/observability/external-metrics";
import { expressionMetricNames, runtimeMetricNames } from "../../obs/support/metric-names";
import { ROOT, stackConfig } from "../support/stacks";

const STACKS = ["dev", "staging", "prod"] as const;

type Values = Record<string, unknown>;
/** stackConfig's edit: `observability.alerts` merged with `alerts`. */
const withAlerts = (alerts: Values) => (v: Values) => {
  const observability = (v.observability ?? {}) as Values;
  v.observability = { ...observability, alerts: { ...(observability.alerts as Values), ...alerts } };
};

function rules(config: FleetConfig): AlertRule[] {
  return alertRuleGroups(config).flatMap((g) => g.rules);
}
const named = (config: FleetConfig, alert: string) => rules(config).filter((r) => r.alert === alert);
function only(config: FleetConfig, alert: string, labels: Record<string, string> = {}): AlertRule {
  const found = named(config, alert).filter((r) =>
    Object.entries(labels).every(([k, v]) => (r.labels as Record<string, string>)[k] === v),
  );
  expect(found, `${alert} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]!;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) {
    anchors.add(
      m[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-"),
    );
  }
  return anchors;
}

describe("alert rules of the shipped stacks", () => {
  let known: Set<string>;
  beforeAll(async () => {
    known = new Set([...(await runtimeMetricNames()), ...EXTERNAL_METRIC_NAMES]);
  });

  it.each(STACKS)("%s: every expression reads only metrics the runtime or an exporter exports", (stack) => {
    const unknown = rules(stackConfig(stack)).flatMap((r) =>
      expressionMetricNames(r.expr)
        .filter((name) => !known.has(name))
        .map((name) => `${r.alert}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it("a metric the runtime does not export is caught (the check above can fail)", () => {
    const renamed = rules(stackConfig("prod")).map((r) =>
      r.expr.replace("agent_queue_dead", "agent_queue_dead_tasks"),
    );
    const unknown = renamed.flatMap(expressionMetricNames).filter((name) => !known.has(name));
    expect(unknown).toContain("agent_queue_dead_tasks");
  });

  it.each(STACKS)("%s: every alert has a severity, a summary and a runbook section that exists", (stack) => {
    const config = stackConfig(stack);
    const anchors = headingAnchors(readFileSync(join(ROOT, "docs/operations.md"), "utf8"));
    for (const r of rules(config)) {
      expect(["critical", "warning"], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).not.toBe("");
      expect(r.annotations.description, r.alert).not.toBe("");
      const [base, anchor] = r.annotations.runbook_url.split("#");
      expect(base).toBe(config.observability.alerts.runbookUrl);
      expect(anchors, `docs/operations.md has no heading for #${anchor}`).toContain(anchor);
      expect(r.expr, r.alert).toContain(`namespace="${config.namespace}"`);
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it("prod has every alert, and its rule file is the groups as YAML", () => {
    const config = stackConfig("prod");
    expect(new Set(rules(config).map((r) => r.alert))).toEqual(new Set(ALERT_NAMES));
    expect(parse(ruleFileYaml(alertRuleGroups(config)))).toEqual({ groups: alertRuleGroups(config) });
  });

  it("the task statuses the error ratio counts are outcomes the runtime records", () => {
    const expr = only(stackConfig("prod"), "AgentTaskErrorRate").expr;
    const statuses = /status=~"([^"]+)"/.exec(expr)![1]!.split("|");
    expect(statuses).toEqual(["failed", "dead"]);
    for (const s of statuses) expect(TASK_OUTCOMES).toContain(s);
  });
});

describe("thresholds follow stack config", () => {
  it("one backlog rule per enabled agent at backlogPerPod x maxReplicas (hpa mode)", () => {
    const config = stackConfig("prod", (v) => {
      v.agents = {
        ...(v.agents as Values),
        data: { enabled: false },
        tester: { backlogPerPod: 4, maxReplicas: 9 },
      };
    });
    const backlog = named(config, "AgentBacklogHigh");
    expect(backlog.map((r) => r.labels.agent_type)).toEqual(config.enabledAgents.map((a) => a.name));
    expect(backlog.map((r) => r.labels.agent_type)).not.toContain("data");
    const tester = only(config, "AgentBacklogHigh", { agent_type: "tester" });
    expect(tester.expr).toBe(
      'max by (namespace, agent_type) (agent_queue_backlog{namespace="agent-fleet",agent_type="tester"}) > 36',
    );
    expect(tester.for).toBe(config.observability.alerts.backlogFor);
    expect(tester.annotations.summary).toContain("ceiling of 36");
  });

  it("under fixed scaling the ceiling is backlogPerPod x replicas", () => {
    const config = stackConfig("dev", (v) => {
      v.agents = { python: { replicas: 2, backlogPerPod: 3 } };
    });
    expect(config.autoscaling.mode).toBe("fixed");
    expect(only(config, "AgentBacklogHigh", { agent_type: "python" }).expr).toMatch(/\) > 6$/);
  });

  it("a changed SLA of one band changes that band's rule only", () => {
    const before = stackConfig("prod");
    const after = stackConfig("prod", withAlerts({ sla: { P1: "7m" } }));
    expect(only(after, "AgentTaskOverSLA", { priority: "P1" }).expr).toMatch(
      /agent_queue_oldest_age_seconds\{namespace="agent-fleet",priority="P1"\}\) > 420$/,
    );
    expect(only(after, "AgentTaskOverSLA", { priority: "P1" }).annotations.summary).toContain("SLA of 7m");
    for (const band of ["P0", "P2"]) {
      expect(only(after, "AgentTaskOverSLA", { priority: band })).toEqual(
        only(before, "AgentTaskOverSLA", { priority: band }),
      );
    }
    expect(named(after, "AgentTaskOverSLA").map((r) => r.labels.priority)).toEqual(["P0", "P1", "P2"]);
  });

  it("ratios, durations, restarts and the runbook address come from observability.alerts", () => {
    const config = stackConfig(
      "prod",
      withAlerts({
        runbookUrl: "https://runbooks.example.com/ops.md",
        errorRatio: 0.2,
        errorRatioFor: "3m",
        hpaAtMaxFor: "45m",
        restarts: { count: 5, window: "30m" },
        redisMemoryRatio: 0.75,
        router5xxRatio: 0.01,
      }),
    );
    const errors = only(config, "AgentTaskErrorRate");
    expect(errors.expr).toMatch(/ > 0\.2$/);
    expect(errors.for).toBe("3m");
    expect(only(config, "AgentHPAAtMax").for).toBe("45m");
    expect(only(config, "AgentPodRestarting").expr).toBe(
      'increase(kube_pod_container_status_restarts_total{namespace="agent-fleet"}[30m]) >= 5',
    );
    expect(only(config, "AgentPodOOMKilled").expr).toContain("[30m]");
    expect(only(config, "RedisMemoryHigh").expr).toMatch(/ > 0\.75$/);
    expect(only(config, "RouterErrors").expr).toMatch(/ > 0\.01$/);
    expect(only(config, "RouterErrors").annotations.summary).toContain("threshold 1%");
    expect(only(config, "RedisDown").annotations.runbook_url).toBe(
      "https://runbooks.example.com/ops.md#redisdown",
    );
  });

  it("the fleet namespace is the one every rule selects", () => {
    const config = stackConfig("prod", (v) => {
      v.namespace = "agents-blue";
    });
    for (const r of rules(config)) {
      expect(r.expr).toContain('namespace="agents-blue"');
      expect(r.expr).not.toContain('namespace="agent-fleet"');
    }
  });

  it("a managed Redis has no container to watch: no RedisMemoryHigh, RedisDown stays", () => {
    // Resolving a managed queue needs its password secret; the rules read only the mode.
    const managed = {
      mode: "managed",
      url: "rediss://redis.example.com:6380",
      passwordKey: "redisPassword",
    } as const;
    const config: FleetConfig = { ...stackConfig("prod"), queue: managed };
    expect(named(config, "RedisMemoryHigh")).toEqual([]);
    expect(named(config, "RedisDown")).toHaveLength(1);
  });

  it("durations convert to seconds", () => {
    expect([durationSeconds("90s"), durationSeconds("5m"), durationSeconds("2h")]).toEqual([90, 300, 7200]);
    expect(() => durationSeconds("5d")).toThrow('"5d" is not a duration');
  });

  it("anchors are the alert names in lower case", () => {
    expect(runbookAnchor("AgentHPAAtMax")).toBe("agenthpaatmax");
  });
});
