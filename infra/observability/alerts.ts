/**
 * The fleet's Prometheus alert rules, from stack config: pure data in the rule-file shape, so the
 * same groups become a rule file (`ruleFileYaml`), a chart value or a PrometheusRule, and test
 * without a cluster (test/infra/observability: names and thresholds; test/obs: promtool).
 *
 * Every metric name comes from the runtime's contract or from EXTERNAL_METRICS, never retyped, so
 * a renamed metric fails the checks instead of silencing an alert. Every rule selects the fleet's
 * namespace. Each alert's runbook_url points at its section of docs/operations.md: the anchor is
 * the alert's name in lower case (ALERT_NAMES), the heading there is the name itself.
 */
import { stringify } from "yaml";
import { BACKLOG_AGENT_LABEL, BACKLOG_METRIC, RUNTIME_METRICS } from "../../agent-runtime/src/contract";
import type { FleetConfig } from "../config/resolve";
import { MODEL_LOADER_NAME, REDIS_NAME } from "../components/fleet/conventions";
import type { ExternalMetric } from "./external-metrics";
import { durationSeconds } from "./duration";

export type Severity = "critical" | "warning";

export interface AlertRule {
  alert: string;
  /** PromQL; an alert is pending for each series it returns. */
  expr: string;
  /** How long the expression must hold before the alert fires ("0s": at once). */
  for: string;
  /**
   * The severity, plus the label that tells a per-agent or per-band copy of a rule from its
   * siblings (the same value its series carry); promtool rejects copies with equal labels.
   */
  labels: { severity: Severity } & Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** The alerts, by name; each has a `### <name>` section in docs/operations.md. */
export const ALERT_NAMES = [
  "AgentBacklogHigh",
  "AgentTaskOverSLA",
  "AgentDeadLetters",
  "AgentTaskErrorRate",
  "AgentHPAAtMax",
  "AgentPodRestarting",
  "AgentPodOOMKilled",
  "ModelLoaderJobFailed",
  "RedisDown",
  "RedisMemoryHigh",
  "RouterErrors",
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

/** The runbook anchor of an alert: GitHub's slug of its `### <name>` heading. */
export function runbookAnchor(alert: AlertName): string {
  return alert.toLowerCase();
}

/** The bands with an SLA (P3 has none), and how urgent a breach of each is. */
export const SLA_SEVERITY = { P0: "critical", P1: "critical", P2: "warning" } as const satisfies Record<
  string,
  Severity
>;

/**
 * Fixed windows (not stack config): the rate window of the ratio alerts, how far back the
 * dead-letter count is compared, how long Redis may be unreadable or near its memory limit.
 */
export const RATE_WINDOW = "5m";
export const DEAD_LETTER_WINDOW = "10m";
export const REDIS_DOWN_FOR = "1m";
export const REDIS_MEMORY_FOR = "5m";

type RuntimeMetric = typeof BACKLOG_METRIC | (typeof RUNTIME_METRICS)[keyof typeof RUNTIME_METRICS];

/** `metric{namespace="…",k="v",k=~"re"}`; a value starting with `~` is a regex match. */
function series(
  metric: RuntimeMetric | ExternalMetric,
  namespace: string,
  match: Record<string, string> = {},
) {
  const matchers = Object.entries({ namespace, ...match }).map(([label, value]) =>
    value.startsWith("~")
      ? `${label}=~${JSON.stringify(value.slice(1))}`
      : `${label}=${JSON.stringify(value)}`,
  );
  return `${metric}{${matchers.join(",")}}`;
}

const percent = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`;

export function alertRuleGroups(config: FleetConfig): RuleGroup[] {
  const alerts = config.observability.alerts;
  const ns = config.namespace;
  const rule = (
    alert: AlertName,
    severity: Severity,
    expr: string,
    duration: string,
    summary: string,
    description: string,
    extraLabels: Record<string, string> = {},
  ): AlertRule => ({
    alert,
    expr,
    for: duration,
    labels: { severity, ...extraLabels },
    annotations: { summary, description, runbook_url: `${alerts.runbookUrl}#${runbookAnchor(alert)}` },
  });
  const agentLabel = `{{ $labels.${BACKLOG_AGENT_LABEL} }}`;
  const byAgent = `by (namespace, ${BACKLOG_AGENT_LABEL})`;
  const hpaMax = series("kube_horizontalpodautoscaler_spec_max_replicas", ns);
  const onHpa = "on (namespace, horizontalpodautoscaler)";
  const restarts = `increase(${series("kube_pod_container_status_restarts_total", ns)}[${alerts.restarts.window}])`;

  // One rule per enabled agent: each has its own ceiling. Under `fixed` scaling the agent has
  // exactly `replicas` pods, so that is its ceiling there.
  const hpaMode = config.autoscaling.mode === "hpa";
  const backlog = config.enabledAgents.map((agent) => {
    const pods = hpaMode ? agent.maxReplicas : agent.replicas;
    const ceiling = agent.backlogPerPod * pods;
    return rule(
      "AgentBacklogHigh",
      "warning",
      `max ${byAgent} (${series(BACKLOG_METRIC, ns, { [BACKLOG_AGENT_LABEL]: agent.name })}) > ${ceiling}`,
      alerts.backlogFor,
      `Agent ${agentLabel} has {{ $value | humanize }} tasks ready or running, above its ceiling of ${ceiling}`,
      `The backlog of ${agent.name} has stayed above backlogPerPod (${agent.backlogPerPod}) x ` +
        `${hpaMode ? "maxReplicas" : "replicas"} (${pods}) for ${alerts.backlogFor}: the agent runs ` +
        "all the pods it may and work still piles up.",
      { [BACKLOG_AGENT_LABEL]: agent.name },
    );
  });

  const sla = (Object.keys(SLA_SEVERITY) as (keyof typeof SLA_SEVERITY)[]).map((band) =>
    rule(
      "AgentTaskOverSLA",
      SLA_SEVERITY[band],
      `max by (namespace, ${BACKLOG_AGENT_LABEL}, priority) (${series(RUNTIME_METRICS.queueOldestAge, ns, { priority: band })}) > ${durationSeconds(alerts.sla[band])}`,
      "0s",
      `Agent ${agentLabel}: the next ${band} task has waited {{ $value | humanizeDuration }}, over its SLA of ${alerts.sla[band]}`,
      `A ready ${band} task of ${agentLabel} has waited longer than the band's SLA (${alerts.sla[band]}) without a worker claiming it.`,
      { priority: band },
    ),
  );

  const dead = series(RUNTIME_METRICS.queueDead, ns);
  const tasks = (match: Record<string, string> = {}) =>
    `sum ${byAgent} (rate(${series(RUNTIME_METRICS.tasks, ns, match)}[${RATE_WINDOW}]))`;
  const responses = (match: Record<string, string> = {}) =>
    `sum by (namespace) (rate(${series(RUNTIME_METRICS.routerResponses, ns, match)}[${RATE_WINDOW}]))`;

  const groups: RuleGroup[] = [
    {
      name: "agent-fleet.queue",
      rules: [
        ...backlog,
        ...sla,
        rule(
          "AgentDeadLetters",
          "warning",
          // A gauge: compare with its lowest value within the window (routers all export the same
          // count). Not `offset`: a Prometheus younger than the window would have nothing to
          // compare with and stay quiet; the lowest sample it has is the right baseline.
          `max ${byAgent} (${dead}) - max ${byAgent} (min_over_time(${dead}[${DEAD_LETTER_WINDOW}])) > 0`,
          "0s",
          `Agent ${agentLabel}: {{ $value | humanize }} more tasks dead-lettered in the last ${DEAD_LETTER_WINDOW}`,
          `Tasks of ${agentLabel} ran out of deliveries (each claim counts, so a task that keeps killing its worker ends here too) and moved to the dead-letter set.`,
        ),
      ],
    },
    {
      name: "agent-fleet.tasks",
      rules: [
        rule(
          "AgentTaskErrorRate",
          "warning",
          `${tasks({ status: "~failed|dead" })} / ${tasks()} > ${alerts.errorRatio}`,
          alerts.errorRatioFor,
          `Agent ${agentLabel}: {{ $value | humanizePercentage }} of task deliveries failed or dead-lettered (threshold ${percent(alerts.errorRatio)})`,
          `Over the last ${RATE_WINDOW}, more than ${percent(alerts.errorRatio)} of ${agentLabel}'s task deliveries ended failed or dead, for ${alerts.errorRatioFor}.`,
        ),
      ],
    },
    {
      name: "agent-fleet.workloads",
      rules: [
        rule(
          "AgentHPAAtMax",
          "warning",
          // An HPA whose min equals its max is always "at max": not worth an alert.
          `${series("kube_horizontalpodautoscaler_status_current_replicas", ns)} >= ${onHpa} ${hpaMax}` +
            ` and ${onHpa} (${hpaMax} > ${onHpa} ${series("kube_horizontalpodautoscaler_spec_min_replicas", ns)})`,
          alerts.hpaAtMaxFor,
          "HPA {{ $labels.horizontalpodautoscaler }} has run its maximum of {{ $value }} replicas for " +
            alerts.hpaAtMaxFor,
          `The autoscaler of {{ $labels.horizontalpodautoscaler }} cannot add pods: it has sat at maxReplicas for ${alerts.hpaAtMaxFor}.`,
        ),
        rule(
          "AgentPodRestarting",
          "warning",
          `${restarts} >= ${alerts.restarts.count}`,
          "0s",
          `Container {{ $labels.container }} of pod {{ $labels.pod }} restarted {{ $value | humanize }} times in ${alerts.restarts.window}`,
          `A container in ${ns} restarted at least ${alerts.restarts.count} times within ${alerts.restarts.window}.`,
        ),
        rule(
          "AgentPodOOMKilled",
          "warning",
          `(${restarts} > 0) and on (namespace, pod, container) ` +
            `(${series("kube_pod_container_status_last_terminated_reason", ns, { reason: "OOMKilled" })} == 1)`,
          "0s",
          "Container {{ $labels.container }} of pod {{ $labels.pod }} was OOMKilled",
          `A container in ${ns} restarted within ${alerts.restarts.window} after the kernel killed it for exceeding its memory limit.`,
        ),
        rule(
          "ModelLoaderJobFailed",
          "critical",
          `${series("kube_job_failed", ns, { job_name: `~${MODEL_LOADER_NAME}-.+`, condition: "true" })} == 1`,
          "0s",
          "The model loader Job {{ $labels.job_name }} failed",
          "The Job that downloads and verifies the model files gave up (backoffLimit reached): model-backed agents cannot start.",
        ),
      ],
    },
    {
      name: "agent-fleet.redis",
      rules: [
        rule(
          "RedisDown",
          "critical",
          // Every router replica reads Redis; only all of them failing means Redis is away.
          `max by (namespace) (${series(RUNTIME_METRICS.redisUp, ns)}) == 0`,
          REDIS_DOWN_FOR,
          "No task router in {{ $labels.namespace }} can read the queue from Redis",
          `Every router's last read of queue statistics from Redis failed for ${REDIS_DOWN_FOR}: submissions fail, workers cannot claim, the HPAs hold on stale backlog.`,
        ),
        ...(config.queue.mode === "in-cluster"
          ? [
              rule(
                "RedisMemoryHigh",
                "warning",
                `max by (namespace, pod) (${series("container_memory_working_set_bytes", ns, { container: REDIS_NAME })})` +
                  ` / max by (namespace, pod) (${series("container_spec_memory_limit_bytes", ns, { container: REDIS_NAME })} > 0)` +
                  ` > ${alerts.redisMemoryRatio}`,
                REDIS_MEMORY_FOR,
                `Redis pod {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit (threshold ${percent(alerts.redisMemoryRatio)})`,
                "Redis runs with maxmemory-policy noeviction: when it is full, enqueues fail instead of dropping tasks.",
              ),
            ]
          : []),
      ],
    },
    {
      name: "agent-fleet.router",
      rules: [
        rule(
          "RouterErrors",
          "critical",
          `${responses({ code: "~5.." })} / ${responses()} > ${alerts.router5xxRatio}`,
          alerts.errorRatioFor,
          `The task router answers {{ $value | humanizePercentage }} of requests with 5xx (threshold ${percent(alerts.router5xxRatio)})`,
          `Over the last ${RATE_WINDOW}, more than ${percent(alerts.router5xxRatio)} of the router's /v1 answers were 5xx, for ${alerts.errorRatioFor}.`,
        ),
      ],
    },
  ];
  return groups;
}

/** The groups as a Prometheus rule file. */
export function ruleFileYaml(groups: RuleGroup[]): string {
  return stringify({ groups }, { lineWidth: 0 });
}
