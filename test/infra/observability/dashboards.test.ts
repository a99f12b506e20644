/**
 * The three Grafana dashboards as stack config makes them: titles and panels, every metric a query
 * reads against what the runtime really exports (its own registries) and the exporters' lists, the
 * namespace filter, the SLA lines and the cost panel's prices against config, and the JSON model's
 * shape as far as Grafana's foundation SDK guarantees it. test/obs/dashboards.test.ts has promtool
 * parse every expression.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TASK_OUTCOMES } from "../../../agent-runtime/src/lib/metrics";
import type { FleetConfig } from "../../../infra/config/resolve";
import { agentPodPrices, capacityPlan } from "../../../infra/cost/capacity";
import {
  DASHBOARDS,
  dashboardConfigMaps,
  dashboardQueries,
  fleetDashboards,
  type GrafanaDashboard,
} from "../../../infra/observability/dashboards";
import { EXTERNAL_METRIC_NAMES } from "../../../infra/observability/external-metrics";
import { expressionMetricNames, runtimeMetricNames } from "../../obs/support/metric-names";
import { ROOT, stackConfig } from "../support/stacks";

const STACKS = ["dev", "staging", "prod"] as const;

const PANELS: Record<string, string[]> = {
  [DASHBOARDS.performance.uid]: [
    "Throughput per agent",
    "Backlog per priority band",
    "Task latency p50/p95/p99",
    "Success rate",
    "Model inference latency",
    "LLM tokens per agent",
  ],
  [DASHBOARDS.resources.uid]: [
    "CPU per pod",
    "Memory per pod",
    "Replicas vs HPA bounds",
    "Router 5xx",
    "Redis reachable from the router",
  ],
  [DASHBOARDS.business.uid]: [
    "Oldest ready task vs SLA",
    "SLA compliance",
    "Dead letters",
    "Cost per agent type",
  ],
};

/** A panel as Grafana reads it from the JSON model (rows have no targets). */
interface PanelJson {
  id?: number;
  title?: string;
  description?: string;
  datasource?: unknown;
  gridPos?: unknown;
  fieldConfig?: { defaults: { unit?: string; thresholds?: { steps: unknown[] } } };
  targets?: { refId?: string; datasource?: unknown; expr?: string; legendFormat?: string }[];
}

const panelsOf = (d: GrafanaDashboard) => (d.panels ?? []) as PanelJson[];

function panel(d: GrafanaDashboard, title: string): PanelJson {
  const p = panelsOf(d).find((x) => x.title === title);
  if (!p) throw new Error(`${d.uid ?? "?"} has no panel "${title}"`);
  return p;
}

function byUid(dashboards: GrafanaDashboard[], uid: string): GrafanaDashboard {
  const d = dashboards.find((x) => x.uid === uid);
  if (!d) throw new Error(`no dashboard ${uid}`);
  return d;
}

const exprs = (d: GrafanaDashboard, title: string) =>
  dashboardQueries(d)
    .filter((q) => q.panel === title)
    .map((q) => q.expr);

describe("fleetDashboards", () => {
  let runtime: Set<string>;
  beforeAll(async () => {
    runtime = await runtimeMetricNames();
  });

  it.each(STACKS)("%s: three dashboards with stable uids, the titles and the panels", (stack) => {
    const dashboards = fleetDashboards(stackConfig(stack));
    expect(dashboards.map((d) => [d.uid, d.title])).toEqual(
      Object.values(DASHBOARDS).map((d) => [d.uid, d.title]),
    );
    for (const d of dashboards) {
      const titles = panelsOf(d).map((p) => p.title);
      for (const title of PANELS[d.uid ?? ""] ?? ["?"]) expect(titles, d.title).toContain(title);
    }
  });

  it.each(STACKS)("%s: every query reads metrics the runtime or an exporter has", (stack) => {
    const known = new Set([...runtime, ...EXTERNAL_METRIC_NAMES]);
    for (const d of fleetDashboards(stackConfig(stack))) {
      for (const q of dashboardQueries(d)) {
        const unknown = expressionMetricNames(q.check).filter((n) => !known.has(n));
        expect(unknown, `${d.title} / ${q.panel} ${q.refId}: ${q.expr}`).toEqual([]);
      }
    }
  });

  it("filters every series on the stack's namespace", () => {
    const config = stackConfig("prod", (v) => {
      v.namespace = "fleet-blue";
    });
    for (const d of fleetDashboards(config)) {
      for (const q of dashboardQueries(d)) {
        for (const name of expressionMetricNames(q.check)) {
          const selectors = [...q.check.matchAll(new RegExp(`\\b${name}\\{([^}]*)\\}`, "g"))];
          expect(selectors.length, `${q.panel}: ${name} without a selector`).toBeGreaterThan(0);
          for (const s of selectors)
            expect(s[1], `${q.panel}: ${q.expr}`).toMatch(/^namespace="fleet-blue"(,|$)/);
        }
      }
    }
  });

  it("selects agents by the agent_type variable, which lists the enabled agents", () => {
    const config = stackConfig("prod", (v) => {
      v.agents = { ...(v.agents as object), ml: { enabled: false } };
    });
    const [performance] = fleetDashboards(config);
    const variable = performance?.templating.list?.find((v) => v.name === "agent_type");
    expect(variable).toMatchObject({ type: "custom", multi: true, includeAll: true, allValue: ".+" });
    const values = (variable?.query as string).split(",");
    expect(values).toEqual(config.enabledAgents.map((a) => a.name));
    expect(values).not.toContain("ml");
    expect(exprs(performance!, "Throughput per agent")[0]).toContain('agent_type=~"$agent_type"');
  });

  it("reads task outcomes the runtime counts", () => {
    const [performance] = fleetDashboards(stackConfig("prod"));
    for (const expr of exprs(performance!, "Success rate")) {
      for (const m of expr.matchAll(/status=~"([^"]+)"/g)) {
        for (const s of m[1]!.split("|")) expect(TASK_OUTCOMES).toContain(s);
      }
    }
  });

  it("draws each band's SLA from config and measures compliance against it", () => {
    const config = stackConfig("prod", (v) => {
      v.observability = { ...(v.observability as object), alerts: { sla: { P0: "2m", P2: "1h" } } };
    });
    const business = byUid(fleetDashboards(config), DASHBOARDS.business.uid);
    const lines = exprs(business, "Oldest ready task vs SLA");
    expect(lines).toEqual(expect.arrayContaining(["vector(120)", "vector(300)", "vector(3600)"]));
    expect(lines.filter((e) => e.startsWith("max("))).toEqual(
      ["P0", "P1", "P2"].map((b) => expect.stringContaining(`priority="${b}"`) as string),
    );
    const compliance = exprs(business, "SLA compliance");
    expect(compliance).toHaveLength(3);
    expect(compliance[0]).toMatch(/priority="P0".*<= bool 120\)\[\$__range:1m\]/);
    expect(compliance[1]).toMatch(/priority="P1".*<= bool 300\)/);
    expect(compliance[2]).toMatch(/priority="P2".*<= bool 3600\)/);
    expect(panel(business, "Oldest ready task vs SLA").description).toContain("P0 2m, P1 5m, P2 1h");
  });

  it("puts the router 5xx alert ratio on the Router 5xx panel", () => {
    const config = stackConfig("prod", (v) => {
      v.observability = { ...(v.observability as object), alerts: { router5xxRatio: 0.02 } };
    });
    const resources = byUid(fleetDashboards(config), DASHBOARDS.resources.uid);
    const p = panel(resources, "Router 5xx");
    expect(p.fieldConfig?.defaults.thresholds?.steps).toEqual([
      { value: null, color: "green" },
      { value: 0.02, color: "red" },
    ]);
    expect(exprs(resources, "Router 5xx")[0]).toContain('code=~"5.."');
  });

  describe("Cost per agent type", () => {
    /** The price each agent's target multiplies its pod-hours by. */
    function pricesOf(config: FleetConfig): Record<string, number> {
      const business = byUid(fleetDashboards(config), DASHBOARDS.business.uid);
      const queries = dashboardQueries(business).filter((q) => q.panel === "Cost per agent type");
      const targets = panel(business, "Cost per agent type").targets;
      return Object.fromEntries(
        queries.map((q, i): [string, number] => [
          targets?.[i]?.legendFormat ?? "?",
          Number(/^([0-9.e-]+) \* /.exec(q.expr)?.[1]),
        ]),
      );
    }

    it("multiplies running pod-hours by the hourly pod price of the cost report's plan", () => {
      const config = stackConfig("prod");
      const prices = pricesOf(config);
      const plan = agentPodPrices(capacityPlan(config));
      expect(Object.keys(prices).sort()).toEqual(config.enabledAgents.map((a) => a.name).sort());
      for (const p of plan) expect(prices[p.agent]).toBeCloseTo(p.hourly, 5);
      // By hand: a frontend pod (1 CPU/2Gi + istio-proxy 100m/128Mi) on e2-standard-16 in europe-west4
      // takes 1100 of 15490 allocatable millicores; the node costs 16 x 0.024 + 64 x 0.003216 per hour
      // plus a 100 GB pd-balanced disk at 0.11/month.
      expect(prices.frontend).toBeCloseTo(
        (16 * 0.024 + 64 * 0.003216 + (100 * 0.11) / 730) * (1100 / 15490),
        5,
      );
      const business = byUid(fleetDashboards(config), DASHBOARDS.business.uid);
      const costPanel = panel(business, "Cost per agent type");
      expect(costPanel.fieldConfig?.defaults.unit).toBe("currencyUSD");
      expect(costPanel.description).toMatch(/infra\/prices\.ts as of 2026-11-21/);
      expect(exprs(business, "Cost per agent type")[0]).toMatch(
        /sum_over_time\(kube_pod_status_phase\{[^}]*phase="Running"[^}]*\}\[\$__range:1m\]\)\) \/ 60$/,
      );
    });

    it("follows the price table when a pool's machine type changes", () => {
      const before = pricesOf(stackConfig("prod"));
      const after = pricesOf(
        stackConfig("prod", (v) => {
          const cluster = v.cluster as { nodePools: Record<string, { machineType: string }> };
          cluster.nodePools.agents!.machineType = "n2-standard-16";
        }),
      );
      expect(after.frontend).not.toBeCloseTo(before.frontend!, 5);
      // Same shape, n2 rates: the price scales with the node price.
      const node = (vcpu: number, gib: number) => 16 * vcpu + 64 * gib + (100 * 0.11) / 730;
      expect(after.frontend! / before.frontend!).toBeCloseTo(
        node(0.034773, 0.004661) / node(0.024, 0.003216),
        5,
      );
      expect(after.ml).toBeCloseTo(before.ml!, 8);
    });

    it("prices staging in euros and shows pod-hours where there is no price (dev)", () => {
      const staging = byUid(fleetDashboards(stackConfig("staging")), DASHBOARDS.business.uid);
      expect(panel(staging, "Cost per agent type").fieldConfig?.defaults.unit).toBe("currencyEUR");
      const dev = byUid(fleetDashboards(stackConfig("dev")), DASHBOARDS.business.uid);
      const p = panel(dev, "Cost per agent type");
      expect(p.fieldConfig?.defaults.unit).toBe("h");
      expect(p.description).toContain("No cost");
      expect(exprs(dev, "Cost per agent type").every((e) => e.startsWith("sum(sum_over_time("))).toBe(true);
    });
  });

  it.each(STACKS)(
    "%s: JSON models Grafana loads: uid, schema version, data source on every target",
    (stack) => {
      for (const d of fleetDashboards(stackConfig(stack))) {
        const json = JSON.parse(JSON.stringify(d)) as GrafanaDashboard;
        expect(json.uid).toMatch(/^[a-z0-9-]{8,40}$/);
        expect(json.schemaVersion).toBeGreaterThanOrEqual(39);
        const datasource = json.templating.list?.find((v) => v.name === "datasource");
        expect(datasource).toMatchObject({ type: "datasource", query: "prometheus" });
        const ids = panelsOf(json).map((p) => p.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const p of panelsOf(json)) {
          expect(p.gridPos, p.title).toMatchObject({
            w: expect.any(Number) as number,
            h: expect.any(Number) as number,
          });
          if (!p.targets) continue;
          expect(p.datasource, p.title).toEqual({ type: "prometheus", uid: "${datasource}" });
          expect(p.targets?.length, p.title).toBeGreaterThan(0);
          const refIds = p.targets?.map((t) => t.refId);
          expect(new Set(refIds).size, p.title).toBe(refIds?.length);
          for (const t of p.targets ?? []) {
            expect(t.datasource, `${p.title} ${t.refId}`).toEqual({
              type: "prometheus",
              uid: "${datasource}",
            });
            expect(t.expr, `${p.title} ${t.refId}`).toBeTruthy();
          }
        }
      }
    },
  );

  it("gives each dashboard a ConfigMap file named by its uid", () => {
    const config = stackConfig("prod");
    const maps = dashboardConfigMaps(config);
    expect(maps.map((m) => m.name)).toEqual(
      Object.values(DASHBOARDS).map((d) => `grafana-dashboard-${d.uid}`),
    );
    for (const [i, d] of fleetDashboards(config).entries()) {
      expect(JSON.parse(maps[i]!.data[`${d.uid}.json`]!)).toEqual(JSON.parse(JSON.stringify(d)));
    }
  });

  it("substitutes every variable for checking", () => {
    for (const q of fleetDashboards(stackConfig("prod")).flatMap(dashboardQueries)) {
      expect(q.check, q.panel).not.toMatch(/\$/);
    }
  });

  it("is documented in docs/operations.md: every dashboard and panel", () => {
    const doc = readFileSync(join(ROOT, "docs", "operations.md"), "utf8");
    const section = /^## Dashboards\n([\s\S]*?)^## /m.exec(doc)?.[1] ?? "";
    for (const d of fleetDashboards(stackConfig("prod"))) {
      expect(section).toContain(`**${d.title}** (\`${d.uid}\`)`);
      for (const p of panelsOf(d)) expect(section, d.title).toContain(`| ${p.title} `);
    }
  });
});
