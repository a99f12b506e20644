/**
 * The promtool unit tests of the alert rules, as data: the fixture config the rules are rendered
 * for, and per alert the input series and the alerts expected to fire (none: it must stay quiet).
 * Thresholds and rendered summaries are literals for this fixture, not computed from the rules
 * under test; metric names come from the runtime constants the rules use. One table, so it is
 * long: each alert's cases read top to bottom beside the alert's thresholds above.
 */
import { stringify } from "yaml";
import { BACKLOG_METRIC, RUNTIME_METRICS } from "../../../agent-runtime/src/contract";
import { resolveStackConfig } from "../../../infra/config/resolve";
import type { AlertName } from "../../../infra/observability/alerts";
import type { ExternalMetric } from "../../../infra/observability/external-metrics";

export const NS = "fleet-test";
export const RUNBOOK = "https://runbooks.example.com/operations.md";

/**
 * Thresholds chosen to differ from the defaults, so a rule that ignored config would fail:
 * python's ceiling is 2 x 3 = 6; data is disabled.
 */
export const fixture = resolveStackConfig({
  file: "alerts-fixture",
  secretKeys: new Set(),
  values: {
    namespace: NS,
    cluster: { provider: "existing" },
    autoscaling: { mode: "hpa" },
    runtime: { executor: "echo" },
    images: { source: "prebuilt", repository: "ghcr.io/agent-fleet", tag: "0.1.0" },
    agents: { python: { maxReplicas: 3, backlogPerPod: 2 }, data: { enabled: false } },
    observability: {
      alerts: {
        runbookUrl: RUNBOOK,
        backlogFor: "5m",
        sla: { P0: "1m", P1: "3m", P2: "10m" },
        errorRatio: 0.1,
        errorRatioFor: "5m",
        hpaAtMaxFor: "10m",
        restarts: { count: 3, window: "10m" },
        redisMemoryRatio: 0.8,
        router5xxRatio: 0.05,
      },
    },
  },
});

type Metric = typeof BACKLOG_METRIC | (typeof RUNTIME_METRICS)[keyof typeof RUNTIME_METRICS] | ExternalMetric;

/** An input series in the fixture's namespace, in promtool's notation (`'1+1x10'`, `'0x5 3x5'`). */
interface Series {
  metric: Metric;
  labels: Record<string, string>;
  values: string;
}
const series = (metric: Metric, labels: Record<string, string>, values: string): Series => ({
  metric,
  labels,
  values,
});

interface Expected {
  /** Besides `namespace` (always the fixture's) and `alertname`. */
  labels: Record<string, string>;
  summary: string;
  description: string;
}

export interface Case {
  /** What the case shows, e.g. "fires above the ceiling". */
  what: string;
  series: Series[];
  /** promtool eval_time from the first sample (1 m apart). */
  at: string;
  /** The alerts firing then; [] = quiet. */
  fires: Expected[];
}

const router = (pod: string) => ({ pod, job: "agent-fleet-pods" });
const ksm = { job: "kube-state-metrics" };

/** kube-state-metrics' three series of one HPA. */
const hpa = (name: string, values: { current: string; max: string; min: string }): Series[] => [
  series(
    "kube_horizontalpodautoscaler_status_current_replicas",
    { horizontalpodautoscaler: name, ...ksm },
    values.current,
  ),
  series(
    "kube_horizontalpodautoscaler_spec_max_replicas",
    { horizontalpodautoscaler: name, ...ksm },
    values.max,
  ),
  series(
    "kube_horizontalpodautoscaler_spec_min_replicas",
    { horizontalpodautoscaler: name, ...ksm },
    values.min,
  ),
];

/** cAdvisor's working set and memory limit of one container. */
const memory = (pod: string, container: string, values: { used: string; limit: string }): Series[] => [
  series("container_memory_working_set_bytes", { pod, container, job: "kubelet" }, values.used),
  series("container_spec_memory_limit_bytes", { pod, container, job: "kubelet" }, values.limit),
];

export const CASES: Record<AlertName, Case[]> = {
  AgentBacklogHigh: [
    {
      what: "fires once the backlog has stayed above 2 x 3 = 6 for backlogFor (5m); routers are deduplicated",
      series: [
        series(BACKLOG_METRIC, { agent_type: "python", ...router("task-router-a") }, "7x10"),
        series(BACKLOG_METRIC, { agent_type: "python", ...router("task-router-b") }, "7x10"),
      ],
      at: "6m",
      fires: [
        {
          labels: { agent_type: "python", severity: "warning" },
          summary: "Agent python has 7 tasks ready or running, above its ceiling of 6",
          description:
            "The backlog of python has stayed above backlogPerPod (2) x maxReplicas (3) for 5m: the agent runs all the pods it may and work still piles up.",
        },
      ],
    },
    {
      what: "stays quiet at the ceiling itself",
      series: [series(BACKLOG_METRIC, { agent_type: "python", ...router("task-router-a") }, "6x10")],
      at: "8m",
      fires: [],
    },
    {
      what: "stays quiet while above the ceiling for less than backlogFor",
      series: [series(BACKLOG_METRIC, { agent_type: "python", ...router("task-router-a") }, "0x5 9x10")],
      at: "9m",
      fires: [],
    },
    {
      what: "has no rule for a disabled agent, and another agent's ceiling is its own (3 x 5 = 15)",
      series: [
        series(BACKLOG_METRIC, { agent_type: "data", ...router("task-router-a") }, "500x10"),
        series(BACKLOG_METRIC, { agent_type: "frontend", ...router("task-router-a") }, "15x10"),
      ],
      at: "8m",
      fires: [],
    },
  ],
  AgentTaskOverSLA: [
    {
      what: "fires at once when a band's next task is older than its SLA (P0 1m, P1 3m); P3 has none",
      series: [
        series(
          RUNTIME_METRICS.queueOldestAge,
          { agent_type: "python", priority: "P0", ...router("a") },
          "0+30x10",
        ),
        series(
          RUNTIME_METRICS.queueOldestAge,
          { agent_type: "python", priority: "P1", ...router("a") },
          "200x10",
        ),
        series(
          RUNTIME_METRICS.queueOldestAge,
          { agent_type: "python", priority: "P2", ...router("a") },
          "500x10",
        ),
        series(
          RUNTIME_METRICS.queueOldestAge,
          { agent_type: "python", priority: "P3", ...router("a") },
          "90000x10",
        ),
      ],
      at: "3m",
      fires: [
        {
          labels: { agent_type: "python", priority: "P0", severity: "critical" },
          summary: "Agent python: the next P0 task has waited 1m 30s, over its SLA of 1m",
          description:
            "A ready P0 task of python has waited longer than the band's SLA (1m) without a worker claiming it.",
        },
        {
          labels: { agent_type: "python", priority: "P1", severity: "critical" },
          summary: "Agent python: the next P1 task has waited 3m 20s, over its SLA of 3m",
          description:
            "A ready P1 task of python has waited longer than the band's SLA (3m) without a worker claiming it.",
        },
      ],
    },
    {
      what: "fires for P2 as a warning past 10m, and is quiet at exactly the SLA",
      series: [
        series(
          RUNTIME_METRICS.queueOldestAge,
          { agent_type: "tester", priority: "P2", ...router("a") },
          "601x3",
        ),
        series(
          RUNTIME_METRICS.queueOldestAge,
          { agent_type: "tester", priority: "P0", ...router("a") },
          "60x3",
        ),
      ],
      at: "1m",
      fires: [
        {
          labels: { agent_type: "tester", priority: "P2", severity: "warning" },
          summary: "Agent tester: the next P2 task has waited 10m 1s, over its SLA of 10m",
          description:
            "A ready P2 task of tester has waited longer than the band's SLA (10m) without a worker claiming it.",
        },
      ],
    },
    {
      what: "stays quiet while every band is within its SLA (an empty band reads 0)",
      series: [
        series(
          RUNTIME_METRICS.queueOldestAge,
          { agent_type: "python", priority: "P0", ...router("a") },
          "45x5",
        ),
        series(
          RUNTIME_METRICS.queueOldestAge,
          { agent_type: "python", priority: "P1", ...router("a") },
          "0x5",
        ),
      ],
      at: "4m",
      fires: [],
    },
  ],
  AgentDeadLetters: [
    {
      what: "fires when the dead-letter set is larger than 10 minutes earlier, with how many were added",
      series: [series(RUNTIME_METRICS.queueDead, { agent_type: "security", ...router("a") }, "2x10 5x10")],
      at: "15m",
      fires: [
        {
          labels: { agent_type: "security", severity: "warning" },
          summary: "Agent security: 3 more tasks dead-lettered in the last 10m",
          description:
            "Tasks of security ran out of deliveries (each claim counts, so a task that keeps killing its worker ends here too) and moved to the dead-letter set.",
        },
      ],
    },
    {
      what: "stays quiet for an old, unchanged dead-letter set, and after a purge",
      series: [
        series(RUNTIME_METRICS.queueDead, { agent_type: "security", ...router("a") }, "4x30"),
        series(RUNTIME_METRICS.queueDead, { agent_type: "ml", ...router("a") }, "5x10 0x20"),
      ],
      at: "15m",
      fires: [],
    },
  ],
  AgentTaskErrorRate: [
    {
      what: "fires when failed + dead exceed 10% of deliveries (12 of 102) for errorRatioFor (5m)",
      series: [
        series(
          RUNTIME_METRICS.tasks,
          { agent_type: "backend", status: "succeeded", pod: "agent-backend-1" },
          "0+88x30",
        ),
        series(
          RUNTIME_METRICS.tasks,
          { agent_type: "backend", status: "retrying", pod: "agent-backend-1" },
          "0+2x30",
        ),
        series(
          RUNTIME_METRICS.tasks,
          { agent_type: "backend", status: "failed", pod: "agent-backend-1" },
          "0+8x30",
        ),
        series(
          RUNTIME_METRICS.tasks,
          { agent_type: "backend", status: "dead", pod: "agent-backend-1" },
          "0+4x30",
        ),
      ],
      at: "15m",
      fires: [
        {
          labels: { agent_type: "backend", severity: "warning" },
          summary: "Agent backend: 11.76% of task deliveries failed or dead-lettered (threshold 10%)",
          description:
            "Over the last 5m, more than 10% of backend's task deliveries ended failed or dead, for 5m.",
        },
      ],
    },
    {
      what: "stays quiet below the ratio (retries do not count as errors)",
      series: [
        series(
          RUNTIME_METRICS.tasks,
          { agent_type: "backend", status: "succeeded", pod: "agent-backend-1" },
          "0+80x30",
        ),
        series(
          RUNTIME_METRICS.tasks,
          { agent_type: "backend", status: "retrying", pod: "agent-backend-1" },
          "0+40x30",
        ),
        series(
          RUNTIME_METRICS.tasks,
          { agent_type: "backend", status: "failed", pod: "agent-backend-1" },
          "0+9x30",
        ),
      ],
      at: "15m",
      fires: [],
    },
    {
      what: "stays quiet while the burst of failures is younger than errorRatioFor",
      series: [
        series(
          RUNTIME_METRICS.tasks,
          { agent_type: "backend", status: "succeeded", pod: "agent-backend-1" },
          "0+90x30",
        ),
        series(
          RUNTIME_METRICS.tasks,
          { agent_type: "backend", status: "failed", pod: "agent-backend-1" },
          "0x10 20+20x20",
        ),
      ],
      at: "14m",
      fires: [],
    },
  ],
  AgentHPAAtMax: [
    {
      what: "fires when an HPA has run maxReplicas for hpaAtMaxFor (10m)",
      series: hpa("agent-python", { current: "3x20", max: "3x20", min: "1x20" }),
      at: "11m",
      fires: [
        {
          // `on (namespace, horizontalpodautoscaler)` keeps only those labels.
          labels: { horizontalpodautoscaler: "agent-python", severity: "warning" },
          summary: "HPA agent-python has run its maximum of 3 replicas for 10m",
          description: "The autoscaler of agent-python cannot add pods: it has sat at maxReplicas for 10m.",
        },
      ],
    },
    {
      what: "stays quiet below max, when min equals max, and before hpaAtMaxFor",
      series: [
        ...hpa("agent-ml", { current: "2x20", max: "3x20", min: "1x20" }),
        ...hpa("agent-data", { current: "2x20", max: "2x20", min: "2x20" }),
        ...hpa("agent-tester", { current: "1x10 8x10", max: "8x20", min: "1x20" }),
      ],
      at: "18m",
      fires: [],
    },
  ],
  AgentPodRestarting: [
    {
      what: "fires at restarts.count (3) restarts within restarts.window (10m)",
      series: [
        series(
          "kube_pod_container_status_restarts_total",
          { pod: "agent-python-0", container: "agent", ...ksm },
          "0x5 1 2 3x10",
        ),
      ],
      at: "12m",
      fires: [
        {
          labels: {
            pod: "agent-python-0",
            container: "agent",
            job: "kube-state-metrics",
            severity: "warning",
          },
          summary: "Container agent of pod agent-python-0 restarted 3 times in 10m",
          description: "A container in fleet-test restarted at least 3 times within 10m.",
        },
      ],
    },
    {
      what: "stays quiet at 2 restarts in the window, and for restarts older than the window",
      series: [
        series(
          "kube_pod_container_status_restarts_total",
          { pod: "agent-python-0", container: "agent", ...ksm },
          "0x5 1 2x10",
        ),
        series(
          "kube_pod_container_status_restarts_total",
          { pod: "redis-0", container: "redis", ...ksm },
          "0 5 9 9x30",
        ),
      ],
      at: "14m",
      fires: [],
    },
  ],
  AgentPodOOMKilled: [
    {
      what: "fires for a container that restarted within the window after an OOM kill",
      series: [
        series(
          "kube_pod_container_status_restarts_total",
          { pod: "agent-ml-0", container: "model", ...ksm },
          "0x5 1x10",
        ),
        series(
          "kube_pod_container_status_last_terminated_reason",
          { pod: "agent-ml-0", container: "model", reason: "OOMKilled", ...ksm },
          "0x5 1x10",
        ),
      ],
      at: "8m",
      fires: [
        {
          labels: { pod: "agent-ml-0", container: "model", job: "kube-state-metrics", severity: "warning" },
          summary: "Container model of pod agent-ml-0 was OOMKilled",
          description:
            "A container in fleet-test restarted within 10m after the kernel killed it for exceeding its memory limit.",
        },
      ],
    },
    {
      what: "stays quiet for a restart that was not an OOM kill, and for an OOM kill long ago",
      series: [
        series(
          "kube_pod_container_status_restarts_total",
          { pod: "agent-ml-0", container: "agent", ...ksm },
          "0x5 1x10",
        ),
        series(
          "kube_pod_container_status_last_terminated_reason",
          { pod: "agent-ml-0", container: "agent", reason: "Error", ...ksm },
          "0x5 1x10",
        ),
        series(
          "kube_pod_container_status_restarts_total",
          { pod: "agent-ml-1", container: "model", ...ksm },
          "1x30",
        ),
        series(
          "kube_pod_container_status_last_terminated_reason",
          { pod: "agent-ml-1", container: "model", reason: "OOMKilled", ...ksm },
          "1x30",
        ),
      ],
      at: "8m",
      fires: [],
    },
  ],
  ModelLoaderJobFailed: [
    {
      what: "fires when the loader Job's Failed condition is true",
      series: [
        series(
          "kube_job_failed",
          { job_name: "model-loader-0123456789", condition: "true", ...ksm },
          "0 1x5",
        ),
        series(
          "kube_job_failed",
          { job_name: "model-loader-0123456789", condition: "false", ...ksm },
          "1 0x5",
        ),
      ],
      at: "2m",
      fires: [
        {
          labels: {
            job_name: "model-loader-0123456789",
            condition: "true",
            job: "kube-state-metrics",
            severity: "critical",
          },
          summary: "The model loader Job model-loader-0123456789 failed",
          description:
            "The Job that downloads and verifies the model files gave up (backoffLimit reached): model-backed agents cannot start.",
        },
      ],
    },
    {
      what: "stays quiet for a loader that has not failed, and for another Job that has",
      series: [
        series("kube_job_failed", { job_name: "model-loader-0123456789", condition: "true", ...ksm }, "0x5"),
        series("kube_job_failed", { job_name: "nightly-backup", condition: "true", ...ksm }, "1x5"),
      ],
      at: "3m",
      fires: [],
    },
  ],
  RedisDown: [
    {
      what: "fires when no router has read Redis for 1m",
      series: [
        series(RUNTIME_METRICS.redisUp, router("task-router-a"), "1 0x5"),
        series(RUNTIME_METRICS.redisUp, router("task-router-b"), "1 0x5"),
      ],
      at: "3m",
      fires: [
        {
          labels: { severity: "critical" },
          summary: "No task router in fleet-test can read the queue from Redis",
          description:
            "Every router's last read of queue statistics from Redis failed for 1m: submissions fail, workers cannot claim, the HPAs hold on stale backlog.",
        },
      ],
    },
    {
      what: "stays quiet while one router still reads Redis, and for a failure younger than 1m",
      series: [
        series(RUNTIME_METRICS.redisUp, router("task-router-a"), "0x5"),
        series(RUNTIME_METRICS.redisUp, router("task-router-b"), "1x4 0"),
      ],
      at: "5m",
      fires: [],
    },
  ],
  RedisMemoryHigh: [
    {
      what: "fires when Redis' working set is above 80% of its limit for 5m",
      series: memory("redis-0", "redis", { used: "900x10", limit: "1000x10" }),
      at: "6m",
      fires: [
        {
          labels: { pod: "redis-0", severity: "warning" },
          summary: "Redis pod redis-0 uses 90% of its memory limit (threshold 80%)",
          description:
            "Redis runs with maxmemory-policy noeviction: when it is full, enqueues fail instead of dropping tasks.",
        },
      ],
    },
    {
      what: "stays quiet below the ratio, without a limit, for other containers, and before 5m",
      series: [
        ...memory("redis-0", "redis", { used: "500x3 950x10", limit: "1000x13" }),
        ...memory("redis-1", "redis", { used: "900x13", limit: "0x13" }),
        ...memory("agent-ml-0", "model", { used: "990x13", limit: "1000x13" }),
      ],
      at: "7m",
      fires: [],
    },
  ],
  RouterErrors: [
    {
      what: "fires when more than 5% of router answers are 5xx for errorRatioFor (5m)",
      series: [
        series(
          RUNTIME_METRICS.routerResponses,
          { method: "POST", route: "/v1/tasks", code: "202", ...router("a") },
          "0+90x20",
        ),
        series(
          RUNTIME_METRICS.routerResponses,
          { method: "POST", route: "/v1/tasks", code: "503", ...router("a") },
          "0+6x20",
        ),
        series(
          RUNTIME_METRICS.routerResponses,
          { method: "GET", route: "/v1/tasks/:id", code: "404", ...router("a") },
          "0+4x20",
        ),
      ],
      at: "12m",
      fires: [
        {
          labels: { severity: "critical" },
          summary: "The task router answers 6% of requests with 5xx (threshold 5%)",
          description: "Over the last 5m, more than 5% of the router's /v1 answers were 5xx, for 5m.",
        },
      ],
    },
    {
      what: "stays quiet below the ratio (4xx are not errors of the router)",
      series: [
        series(
          RUNTIME_METRICS.routerResponses,
          { method: "POST", route: "/v1/tasks", code: "202", ...router("a") },
          "0+60x20",
        ),
        series(
          RUNTIME_METRICS.routerResponses,
          { method: "POST", route: "/v1/tasks", code: "400", ...router("a") },
          "0+36x20",
        ),
        series(
          RUNTIME_METRICS.routerResponses,
          { method: "POST", route: "/v1/tasks", code: "500", ...router("a") },
          "0+4x20",
        ),
      ],
      at: "12m",
      fires: [],
    },
  ],
};

/** The promtool unit-test file of one alert's cases. */
export function promtoolTests(alert: AlertName, cases: Case[], ruleFile: string): string {
  const selector = (s: Series) =>
    `${s.metric}{${Object.entries({ namespace: NS, ...s.labels })
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(",")}}`;
  return stringify(
    {
      rule_files: [ruleFile],
      evaluation_interval: "1m",
      tests: cases.map((c) => ({
        name: `${alert}: ${c.what}`,
        interval: "1m",
        input_series: c.series.map((s) => ({ series: selector(s), values: s.values })),
        alert_rule_test: [
          {
            eval_time: c.at,
            alertname: alert,
            exp_alerts: c.fires.map((e) => ({
              exp_labels: { namespace: NS, ...e.labels },
              exp_annotations: {
                summary: e.summary,
                description: e.description,
                runbook_url: `${RUNBOOK}#${alert.toLowerCase()}`,
              },
            })),
          },
        ],
      })),
    },
    { lineWidth: 0 },
  );
}
