/**
 * The fleet's three Grafana dashboards as code, built with Grafana's foundation SDK (Apache-2.0):
 * a pure function of the resolved stack config, so each stack's namespace, agents, SLA bands and
 * pod prices are in its dashboards. The JSON models go into ConfigMaps that Grafana's dashboard
 * sidecar loads (dashboardConfigMaps). Every runtime metric is named by the runtime's own
 * constants (contract.ts) and every exporter metric by EXTERNAL_METRICS, so a rename on either
 * side fails test/infra/observability/dashboards.test.ts; test/obs/dashboards.test.ts has promtool
 * parse every expression.
 */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import type * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import { BACKLOG_AGENT_LABEL as AGENT, RUNTIME_METRICS } from "../../agent-runtime/src/contract";
import type { FleetConfig } from "../config/resolve";
import { agentPodPrices, capacityPlan } from "../cost/capacity";
import { HOURS_PER_MONTH } from "../prices";
import { agentResourceName, REDIS_NAME, ROUTER_NAME } from "../components/fleet/conventions";
import { EXTERNAL_METRICS } from "./external-metrics";
import { barGauge, datasourceVariable, statPanel, target, timeseries, type PanelSpec } from "./panels";
import { durationSeconds } from "./duration";

export type GrafanaDashboard = dashboard.Dashboard;

/** Stable uids (Grafana links and the ConfigMaps' file names keep them) and titles. */
export const DASHBOARDS = {
  performance: { uid: "agent-fleet-performance", title: "Agent fleet / Agent performance" },
  resources: { uid: "agent-fleet-resources", title: "Agent fleet / Resources" },
  business: { uid: "agent-fleet-business-sla", title: "Agent fleet / Business & SLA" },
} as const;

/** The priority bands with an SLA (config observability.alerts.sla); P3 has none. */
export const SLA_BANDS = ["P0", "P1", "P2"] as const;

const [CPU_USAGE, MEMORY_WORKING_SET] = EXTERNAL_METRICS.cadvisor;
type KubeStateMetric = (typeof EXTERNAL_METRICS.kubeStateMetrics)[number];
/** A kube-state-metrics name, checked against EXTERNAL_METRICS by the compiler. */
const ksm = (name: KubeStateMetric) => name;

/** Selectors and regexes every query of one stack shares. */
class Queries {
  constructor(private readonly namespace: string) {}

  /** `metric{namespace="...",<matchers>}`. */
  sel(metric: string, ...matchers: string[]): string {
    return `${metric}{${[`namespace="${this.namespace}"`, ...matchers].join(",")}}`;
  }

  /** The runtime's series of the agents the `agent_type` variable selects. */
  agent(metric: string, ...matchers: string[]): string {
    return this.sel(metric, `${AGENT}=~"$agent_type"`, ...matchers);
  }

  /** Pods of the selected agents (both tracks): workloads are `agent-<type>[-canary]`. */
  static readonly agentPods = `${agentResourceName("$agent_type")}-.+`;
}

function performance(q: Queries): PanelSpec[] {
  const rate = (expr: string) => `rate(${expr}[$__rate_interval])`;
  const tasks = (status?: string) =>
    q.agent(RUNTIME_METRICS.tasks, ...(status ? [`status=~"${status}"`] : []));
  const quantile = (p: number, by: string, buckets: string) =>
    `histogram_quantile(${p}, sum by (${by}) (${rate(buckets)}))`;
  const durations = q.agent(`${RUNTIME_METRICS.taskDuration}_bucket`);
  const inference = q.sel(`${RUNTIME_METRICS.inference}_bucket`, `pod=~"${Queries.agentPods}"`);
  return [
    timeseries({
      title: "Throughput per agent",
      description: `Task deliveries per second by agent and outcome (${RUNTIME_METRICS.tasks}, status label).`,
      unit: "reqps",
      targets: [target(`sum by (${AGENT}, status) (${rate(tasks())})`, `{{${AGENT}}} {{status}}`)],
    }),
    timeseries({
      title: "Backlog per priority band",
      description:
        `Ready tasks per priority band over the selected agents (${RUNTIME_METRICS.queueReady}). Every router ` +
        "replica exports the same gauges, so each agent's value is the max over replicas, then summed.",
      unit: "short",
      stack: true,
      targets: [
        target(
          `sum by (priority) (max by (${AGENT}, priority) (${q.agent(RUNTIME_METRICS.queueReady)}))`,
          "{{priority}}",
        ),
      ],
    }),
    timeseries({
      title: "Task latency p50/p95/p99",
      description: `Run time of one delivery on a worker, over the selected agents (${RUNTIME_METRICS.taskDuration}).`,
      unit: "s",
      targets: [0.5, 0.95, 0.99].map((p) => target(quantile(p, "le", durations), `p${Math.round(p * 100)}`)),
    }),
    timeseries({
      title: "Success rate",
      description:
        `Share of deliveries that succeeded, of those that ran to an outcome (${RUNTIME_METRICS.tasks}: succeeded, ` +
        "retrying, failed, dead); released and lease_lost deliveries say nothing about the task and are left out.",
      unit: "percentunit",
      min: 0,
      max: 1,
      targets: [
        target(
          `sum by (${AGENT}) (${rate(tasks("succeeded"))}) / sum by (${AGENT}) (${rate(tasks("succeeded|retrying|failed|dead"))})`,
          `{{${AGENT}}}`,
        ),
      ],
    }),
    timeseries({
      title: "Model inference latency",
      description: `p50 and p95 of one model request by model, from the selected agents' pods (${RUNTIME_METRICS.inference}).`,
      unit: "s",
      targets: [0.5, 0.95].map((p) =>
        target(quantile(p, "le, model_name", inference), `{{model_name}} p${Math.round(p * 100)}`),
      ),
    }),
    timeseries({
      title: "LLM tokens per agent",
      description: `Tokens per second the LLM backend reported, by agent and direction (${RUNTIME_METRICS.llmTokens}).`,
      unit: "short",
      targets: [
        target(
          `sum by (${AGENT}, direction) (${rate(q.agent(RUNTIME_METRICS.llmTokens))})`,
          `{{${AGENT}}} {{direction}}`,
        ),
      ],
    }),
  ];
}

function resources(q: Queries, config: FleetConfig): PanelSpec[] {
  const pods = `pod=~"${Queries.agentPods}|${ROUTER_NAME}-.+|${REDIS_NAME}-[0-9]+"`;
  const containers = ['container!=""', 'container!="POD"'];
  const hpa = `horizontalpodautoscaler=~"${agentResourceName("$agent_type")}"`;
  const workloads = `${agentResourceName("$agent_type")}(-canary)?`;
  const hpaSeries = (metric: KubeStateMetric, what: string) =>
    target(
      `max by (horizontalpodautoscaler) (${q.sel(ksm(metric), hpa)})`,
      `{{horizontalpodautoscaler}} ${what}`,
    );
  const ratio = config.observability.alerts.router5xxRatio;
  return [
    timeseries({
      title: "CPU per pod",
      description: `CPU cores used per pod (cAdvisor ${CPU_USAGE}): the selected agents' pods, the task router and Redis.`,
      unit: "short",
      targets: [
        target(`sum by (pod) (rate(${q.sel(CPU_USAGE, ...containers, pods)}[$__rate_interval]))`, "{{pod}}"),
      ],
    }),
    timeseries({
      title: "Memory per pod",
      description: `Working-set memory per pod (cAdvisor ${MEMORY_WORKING_SET}), the figure the OOM killer compares with the limit.`,
      unit: "bytes",
      targets: [target(`sum by (pod) (${q.sel(MEMORY_WORKING_SET, ...containers, pods)})`, "{{pod}}")],
    }),
    timeseries({
      title: "Replicas vs HPA bounds",
      description:
        "Per agent HPA (kube-state-metrics): current and desired replicas against its min and max, and the " +
        "workloads' ready pods" +
        (config.autoscaling.mode === "fixed"
          ? " (this stack runs autoscaling.mode fixed: no HPA series)."
          : "."),
      unit: "short",
      targets: [
        hpaSeries("kube_horizontalpodautoscaler_status_current_replicas", "current"),
        hpaSeries("kube_horizontalpodautoscaler_status_desired_replicas", "desired"),
        hpaSeries("kube_horizontalpodautoscaler_spec_min_replicas", "min"),
        hpaSeries("kube_horizontalpodautoscaler_spec_max_replicas", "max"),
        target(
          `max by (deployment) (${q.sel(ksm("kube_deployment_status_replicas_available"), `deployment=~"${workloads}"`)})`,
          "{{deployment}} available",
        ),
        target(
          `max by (statefulset) (${q.sel(ksm("kube_statefulset_status_replicas_ready"), `statefulset=~"${workloads}"`)})`,
          "{{statefulset}} ready",
        ),
      ],
      dashed: " (min|max)$",
    }),
    timeseries({
      title: "Redis reachable from the router",
      description:
        `1 while a router pod's last read of the queue statistics from Redis succeeded, 0 when it failed ` +
        `(${RUNTIME_METRICS.redisUp}); the queue panels then show the last values read.`,
      unit: "short",
      min: 0,
      max: 1,
      targets: [target(`min by (pod) (${q.sel(RUNTIME_METRICS.redisUp)})`, "{{pod}}")],
    }),
    timeseries({
      title: "Router 5xx",
      description:
        `Share of the task router's responses with a 5xx status, per route (${RUNTIME_METRICS.routerResponses}); ` +
        `the line is the alert threshold (observability.alerts.router5xxRatio = ${ratio}).`,
      unit: "percentunit",
      min: 0,
      threshold: ratio,
      targets: [
        // A route without a 5xx has no 5xx series: `or ... * 0` draws it at 0 instead of leaving
        // the panel empty ("No data" would read like a broken scrape).
        target(
          `(sum by (route) (rate(${q.sel(RUNTIME_METRICS.routerResponses, 'code=~"5.."')}[$__rate_interval]))` +
            ` or sum by (route) (rate(${q.sel(RUNTIME_METRICS.routerResponses)}[$__rate_interval])) * 0) / ` +
            `sum by (route) (rate(${q.sel(RUNTIME_METRICS.routerResponses)}[$__rate_interval]))`,
          "{{route}}",
        ),
      ],
    }),
  ];
}

function business(q: Queries, config: FleetConfig): PanelSpec[] {
  const sla = config.observability.alerts.sla;
  const oldest = (band: string) => `max(${q.agent(RUNTIME_METRICS.queueOldestAge, `priority="${band}"`)})`;
  const slaText = SLA_BANDS.map((b) => `${b} ${sla[b]}`).join(", ");
  return [
    timeseries({
      title: "Oldest ready task vs SLA",
      description:
        `Age of the oldest ready task per priority band over the selected agents (${RUNTIME_METRICS.queueOldestAge}, ` +
        `priority label), against the band's SLA (dashed; observability.alerts.sla: ${slaText}).`,
      unit: "s",
      targets: SLA_BANDS.flatMap((b) => [
        target(oldest(b), b),
        target(`vector(${durationSeconds(sla[b])})`, `${b} SLA`),
      ]),
      dashed: " SLA$",
    }),
    statPanel({
      title: "SLA compliance",
      description:
        "Share of the time range during which each band's oldest ready task was within its SLA " +
        `(${slaText}), sampled every minute.`,
      unit: "percentunit",
      targets: SLA_BANDS.map((b) =>
        target(`avg_over_time((${oldest(b)} <= bool ${durationSeconds(sla[b])})[$__range:1m])`, b, true),
      ),
    }),
    timeseries({
      title: "Dead letters",
      description: `Tasks in each agent's dead-letter set (${RUNTIME_METRICS.queueDead}); inspect and retry them with the CLI.`,
      unit: "short",
      targets: [target(`max by (${AGENT}) (${q.agent(RUNTIME_METRICS.queueDead)})`, `{{${AGENT}}}`)],
    }),
    costPanel(q, config),
  ];
}

/**
 * Running pod-hours over the time range × the hourly price of one pod of the agent, which the
 * cost report's capacity plan derives from infra/prices.ts (agentPodPrices).
 */
function costPanel(q: Queries, config: FleetConfig): PanelSpec {
  const plan = capacityPlan(config);
  const prices = agentPodPrices(plan);
  const running = (agent: string) =>
    q.sel(
      ksm("kube_pod_status_phase"),
      'phase="Running"',
      `pod=~"${agentResourceName(agent)}-.+"`,
      `pod=~"${Queries.agentPods}"`,
    );
  // One sample a minute: each is 1/60 of a pod-hour.
  const podHours = (agent: string) => `sum(sum_over_time(${running(agent)}[$__range:1m])) / 60`;
  const title = "Cost per agent type";
  if (!plan.prices || prices.length === 0) {
    return barGauge({
      title,
      description:
        "Running pod-hours per agent over the time range. No cost: this stack's cluster has no entry in the " +
        "price table (infra/prices.ts), e.g. an existing cluster.",
      unit: "h",
      targets: config.enabledAgents.map((a) => target(podHours(a.name), a.name, true)),
    });
  }
  const { currency, asOf } = plan.prices;
  const each = prices
    .map((p) => `${p.agent} ${p.hourly.toFixed(4)}/h (${(p.share * 100).toFixed(1)}% of a ${p.nodeType})`)
    .join("; ");
  return barGauge({
    title,
    description:
      `Running pod-hours per agent over the time range × the hourly price of one of its pods, in ${currency}. ` +
      `A pod's price is the share of its node's allocatable CPU or memory its requests take (the larger) × the ` +
      `node's hourly price: the cost report's monthly node price (infra/cost, price table infra/prices.ts as of ` +
      `${asOf}, on-demand, disk and IPv4 included) / ${HOURS_PER_MONTH} h. ${each}.`,
    unit: currency === "USD" ? "currencyUSD" : "currencyEUR",
    targets: prices.map((p) =>
      target(`${Number(p.hourly.toPrecision(6))} * ${podHours(p.agent)}`, p.agent, true),
    ),
  });
}

function build(
  meta: { uid: string; title: string },
  config: FleetConfig,
  description: string,
  panels: PanelSpec[],
): GrafanaDashboard {
  const builder = new dashboard.DashboardBuilder(meta.title)
    .uid(meta.uid)
    .description(description)
    .tags(["agent-fleet", config.namespace])
    .time({ from: "now-6h", to: "now" })
    .refresh("1m")
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .withVariable(datasourceVariable())
    .withVariable(
      new dashboard.CustomVariableBuilder("agent_type")
        .label("Agent")
        .description("The stack's enabled agents; most panels show only the selected ones.")
        .values(config.enabledAgents.map((a) => a.name).join(","))
        .multi(true)
        .includeAll(true)
        .allValue(".+")
        .current({ text: "All", value: "$__all" }),
    );
  panels.forEach((p, i) => builder.withPanel(p.builder.id(i + 1)));
  return builder.build();
}

/** The three dashboards of a stack: performance, resources, business & SLA. */
export function fleetDashboards(config: FleetConfig): GrafanaDashboard[] {
  const q = new Queries(config.namespace);
  return [
    build(
      DASHBOARDS.performance,
      config,
      "Throughput, backlog, latency and success of the agents.",
      performance(q),
    ),
    build(
      DASHBOARDS.resources,
      config,
      "CPU, memory and replicas of the fleet's pods, and the router's errors.",
      resources(q, config),
    ),
    build(
      DASHBOARDS.business,
      config,
      "Queue waits against the SLAs, dead letters and cost.",
      business(q, config),
    ),
  ];
}

/** The ConfigMaps' contents: one per dashboard, its JSON model under `<uid>.json`. */
export function dashboardConfigMaps(config: FleetConfig): { name: string; data: Record<string, string> }[] {
  return fleetDashboards(config).map((d) => ({
    name: `grafana-dashboard-${d.uid ?? ""}`,
    data: { [`${d.uid ?? ""}.json`]: JSON.stringify(d, null, 2) },
  }));
}

/** Grafana's built-in variables, replaced by values a checker can parse. */
export const CHECK_VALUES: Readonly<Record<string, string>> = {
  __rate_interval: "5m",
  __interval: "1m",
  __range_s: "86400",
  __range: "1d",
};

export interface DashboardQuery {
  panel: string;
  refId: string;
  /** As Grafana runs it, with variables. */
  expr: string;
  /** With every variable replaced (CHECK_VALUES; dashboard variables by their "All" value). */
  check: string;
}

/** Every PromQL expression of a dashboard with its panel title. */
export function dashboardQueries(d: GrafanaDashboard): DashboardQuery[] {
  const values: Record<string, string> = { ...CHECK_VALUES };
  for (const v of d.templating.list ?? []) if (v.allValue !== undefined) values[v.name] = v.allValue;
  const substitute = (expr: string) =>
    expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
      const value = values[braced ?? bare ?? ""];
      if (value === undefined) throw new Error(`${d.uid ?? "?"}: no check value for ${whole} in ${expr}`);
      return value;
    });
  return (d.panels ?? []).flatMap((panel) =>
    "targets" in panel
      ? (panel.targets ?? []).map((t) => {
          const { expr, refId } = t as prometheus.Dataquery;
          return { panel: panel.title ?? "", refId: refId ?? "", expr, check: substitute(expr) };
        })
      : [],
  );
}
