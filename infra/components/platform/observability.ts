/**
 * What lets the HPAs see the fleet's scaling signals and an operator see the fleet: Prometheus
 * (the plain chart, or kube-prometheus-stack's operator) scraping the runtime, prometheus-adapter
 * serving the router's backlog gauge as an External metric (and GPU use as a Pods metric), the
 * alert rules (the plain chart's rule file, or PrometheusRule objects where the Prometheus Operator
 * runs), the dashboards as ConfigMaps for Grafana's sidecar (and Grafana itself when asked), and an
 * OpenTelemetry Collector for the runtime's traces. The program fills the args from stack config's
 * `observability` section; alert rules and dashboards arrive rendered (infra/observability).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { BACKLOG_AGENT_LABEL, BACKLOG_METRIC } from "../../../agent-runtime/src/contract";
import { ArgsProblems } from "../../lib/args";
import { fleetLabels } from "../../lib/labels";
import { ROUTER_SELECTOR } from "../fleet/conventions";
import { MERGED_METRICS_PORT } from "../fleet/mesh";

/** One group of a Prometheus rule file (the `groups:` entries), as both rule formats carry it. */
export interface RuleGroupArg {
  name: string;
  rules: readonly object[];
}

/** A dashboard for Grafana's sidecar: its ConfigMap name and files (`<uid>.json`: the JSON model). */
export interface DashboardArg {
  name: string;
  data: Record<string, string>;
}

export interface ObservabilityArgs {
  prometheus: {
    /** Install Prometheus with `chart`. */
    install: boolean;
    /** prometheus-community/prometheus (default), or kube-prometheus-stack (the Prometheus Operator). */
    chart?: PrometheusChart;
    /**
     * The Prometheus Operator's CRDs exist (kube-prometheus-stack installed here or before): rules
     * become PrometheusRule objects and scraping PodMonitors. Default: chart is kube-prometheus-stack.
     */
    operator?: boolean;
    /** Namespace of Prometheus, the adapter, Grafana, the collector and the dashboards. */
    namespace: string;
    scrapeInterval: string;
  };
  /** Install prometheus-adapter serving the backlog as an External metric (and GPU use as a Pods metric). */
  adapter: { install: boolean };
  /** Prometheus URL for the adapter and Grafana. Default: the server installed in `prometheus.namespace`. */
  prometheusUrl?: string;
  /** The fleet's namespace and whether its pods carry Istio sidecars (where PodMonitors scrape). */
  fleet?: { namespace: pulumi.Input<string>; istio: boolean };
  /** Alert rule groups (infra/observability/alerts.ts renders them from stack config). */
  alertGroups?: readonly RuleGroupArg[];
  /** Dashboards for Grafana's sidecar (infra/observability/dashboards.ts). */
  dashboards?: readonly DashboardArg[];
  /** Install Grafana (grafana/grafana, or kube-prometheus-stack's) with the dashboard sidecar. */
  grafana?: { install: boolean };
  /** Install an OpenTelemetry Collector receiving OTLP; it forwards to `exportTo` (else logs spans). */
  collector?: { install: boolean; exportTo?: string };
}

export type PrometheusChart = "prometheus" | "kube-prometheus-stack";

/** DCGM exporter's GPU utilisation: the adapter serves it as a Pods metric, GPU pools' HPAs read it. */
export const GPU_METRIC = "DCGM_FI_DEV_GPU_UTIL";

export const PROMETHEUS_CHART = {
  repo: "https://prometheus-community.github.io/helm-charts",
  prometheus: "27.39.0",
  adapter: "5.2.0",
  kubePrometheusStack: "88.6.2",
};
export const GRAFANA_CHART = { repo: "https://grafana.github.io/helm-charts", grafana: "10.5.15" };
export const COLLECTOR_CHART = {
  repo: "https://open-telemetry.github.io/opentelemetry-helm-charts",
  collector: "0.159.1",
  /** The chart asks for an image; this is the distribution built for Kubernetes. */
  image: "otel/opentelemetry-collector-k8s",
};

/** The Service names the installs get (fixed with fullnameOverride where the chart allows it). */
export const OBSERVABILITY_SERVICES = {
  /** The plain chart's server (port 80). */
  prometheus: { name: "prometheus-server", port: 80 },
  /** kube-prometheus-stack's Prometheus (release "kube-prometheus-stack"). */
  operatorPrometheus: { name: "kube-prometheus-stack-prometheus", port: 9090 },
  /** The collector's OTLP/HTTP port. */
  collector: { name: "otel-collector", otlpHttpPort: 4318 },
} as const;

/** The label Grafana's dashboard sidecar loads ConfigMaps by (both charts' default). */
export const DASHBOARD_LABEL = { grafana_dashboard: "1" } as const;

/**
 * The collector's pipeline, merged by the opentelemetry-collector chart over its defaults (which
 * define the `otlp` receiver on 4317/4318 and the `memory_limiter` and `batch` processors): traces
 * from OTLP, through both processors, to your tracing backend over OTLP/HTTP, else to the log. The
 * observability suite runs a real collector with exactly this (test/obs/tracing.test.ts).
 */
export function collectorConfig(exportTo: string | undefined) {
  return {
    exporters: exportTo ? { otlphttp: { endpoint: exportTo } } : { debug: {} },
    service: {
      pipelines: {
        traces: {
          receivers: ["otlp"],
          processors: ["memory_limiter", "batch"],
          exporters: [exportTo ? "otlphttp" : "debug"],
        },
      },
    },
  };
}

/** Where the runtime sends traces when the stack installs the collector. */
export function collectorEndpoint(namespace: string): string {
  const c = OBSERVABILITY_SERVICES.collector;
  return `http://${c.name}.${namespace}.svc:${c.otlpHttpPort}`;
}

/** The in-cluster URL of the Prometheus a chart installs in `namespace`. */
export function prometheusUrl(chart: PrometheusChart, namespace: string): { url: string; port: number } {
  const s =
    chart === "prometheus" ? OBSERVABILITY_SERVICES.prometheus : OBSERVABILITY_SERVICES.operatorPrometheus;
  return { url: `http://${s.name}.${namespace}.svc`, port: s.port };
}

/**
 * Requests and limits of the two servers. Scheduled with requests, so a node has room for them
 * (without, Prometheus is the first pod evicted under memory pressure and the HPAs go blind);
 * the capacity report (infra/cost) counts the same numbers.
 */
export const OBSERVABILITY_RESOURCES = {
  prometheus: { requests: { cpu: "500m", memory: "2Gi" }, limits: { memory: "4Gi" } },
  adapter: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
  /** HPA, restart and OOM alerts read kube-state-metrics; both charts install it. */
  kubeStateMetrics: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "256Mi" } },
  alertmanager: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
  /** kube-prometheus-stack's Prometheus Operator. */
  operator: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
  grafana: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
  collector: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
} as const;

/**
 * The adapter's rules. The router runs several replicas that all export the same gauges, so the
 * External metric takes `max` per agent, never `sum` (which would multiply the backlog).
 */
export function adapterRules(): Record<string, unknown> {
  return {
    default: false,
    external: [
      {
        seriesQuery: `${BACKLOG_METRIC}{${BACKLOG_AGENT_LABEL}!=""}`,
        resources: { overrides: { namespace: { resource: "namespace" } } },
        name: { as: BACKLOG_METRIC },
        metricsQuery: `max(${BACKLOG_METRIC}{<<.LabelMatchers>>}) by (${BACKLOG_AGENT_LABEL})`,
      },
    ],
    custom: [
      {
        seriesQuery: `${GPU_METRIC}{namespace!="",pod!=""}`,
        resources: { overrides: { namespace: { resource: "namespace" }, pod: { resource: "pod" } } },
        name: { as: GPU_METRIC },
        metricsQuery: `avg(${GPU_METRIC}{<<.LabelMatchers>>}) by (<<.GroupBy>>)`,
      },
    ],
  };
}

/** Validates ObservabilityArgs; throws ComponentArgsError listing every problem by property path. */
export function validateObservabilityArgs(name: string, args: ObservabilityArgs): void {
  const problems = new ArgsProblems("FleetObservability", name);
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(args.prometheus.namespace)) {
    problems.add("prometheus.namespace", `"${args.prometheus.namespace}" is not a DNS-1123 label`);
  }
  if (!/^\d+(s|m)$/.test(args.prometheus.scrapeInterval)) {
    problems.add(
      "prometheus.scrapeInterval",
      `"${args.prometheus.scrapeInterval}" is not a duration such as "15s"`,
    );
  }
  problems.throwIfAny();
}

/** Whether rules and scrape targets are Prometheus Operator objects. */
export function usesOperator(args: ObservabilityArgs["prometheus"]): boolean {
  return args.operator ?? (args.install && args.chart === "kube-prometheus-stack");
}

/** The rule file the plain chart loads (serverFiles) and the fallback ConfigMap carries. */
export const RULE_FILE = "alerting_rules.yml";

/**
 * Where the Prometheus Operator scrapes the runtime: every agent and router pod, one endpoint per
 * pod (the router's replicas each export the backlog; the adapter takes their max). With Istio's
 * sidecar the app port only speaks mTLS, so the operator scrapes the sidecar's merged metrics port,
 * as the plain chart does through the rewritten prometheus.io annotations.
 */
export function podMonitorSpecs(
  fleetNamespace: pulumi.Input<string>,
  istio: boolean,
): Record<string, object> {
  const endpoint = istio
    ? { targetPort: MERGED_METRICS_PORT, path: "/stats/prometheus" }
    : { port: "http", path: "/metrics" };
  const monitor = (matchLabels: Record<string, string>) => ({
    namespaceSelector: { matchNames: [fleetNamespace] },
    selector: { matchLabels },
    podMetricsEndpoints: [endpoint],
  });
  return {
    agents: monitor({ "app.kubernetes.io/part-of": "agent-fleet", "app.kubernetes.io/component": "agent" }),
    router: monitor(ROUTER_SELECTOR),
  };
}

/** Prometheus, the adapter, alert rules, dashboards, Grafana and the trace collector, as asked. */
export class FleetObservability extends pulumi.ComponentResource {
  constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:FleetObservability", name, {}, opts);
    validateObservabilityArgs(name, args);
    const namespaceName = args.prometheus.namespace;
    const chart = args.prometheus.chart ?? "prometheus";
    const operator = usesOperator(args.prometheus);
    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: namespaceName,
          // node-exporter style charts need host access; label the level explicitly and warn on more.
          labels: {
            ...fleetLabels("monitoring"),
            "pod-security.kubernetes.io/enforce": "privileged",
            "pod-security.kubernetes.io/warn": "restricted",
          },
        },
      },
      { parent: this },
    );
    const release = (
      suffix: string,
      spec: { name: string; chart: string; version: string; repo: string; values: Record<string, unknown> },
      dependsOn: pulumi.Resource[] = [],
    ) =>
      new k8s.helm.v3.Release(
        `${name}-${suffix}`,
        {
          name: spec.name,
          chart: spec.chart,
          version: spec.version,
          namespace: ns.metadata.name,
          repositoryOpts: { repo: spec.repo },
          values: spec.values,
        },
        { parent: this, dependsOn },
      );
    const groups = args.alertGroups ?? [];
    const dashboards = args.dashboards ?? [];
    const grafana = args.grafana?.install ?? false;
    const prometheus = args.prometheusUrl
      ? { url: args.prometheusUrl, port: undefined }
      : prometheusUrl(chart, namespaceName);
    const deps: pulumi.Resource[] = [];
    if (args.prometheus.install && chart === "prometheus") {
      deps.push(
        release("prometheus", {
          name: "prometheus",
          chart: "prometheus",
          version: PROMETHEUS_CHART.prometheus,
          repo: PROMETHEUS_CHART.repo,
          values: {
            // The fleet's own metrics, cAdvisor's per-pod CPU and memory (the chart's default jobs)
            // and kube-state-metrics (HPA bounds, restarts, OOM kills, the model loader Job) for
            // the alerts and dashboards. Alertmanager routes the alerts (its receivers are yours:
            // docs/operations.md). No node exporter (host access) and no push gateway.
            alertmanager: { enabled: groups.length > 0, resources: OBSERVABILITY_RESOURCES.alertmanager },
            "prometheus-pushgateway": { enabled: false },
            "prometheus-node-exporter": { enabled: false },
            "kube-state-metrics": { enabled: true, resources: OBSERVABILITY_RESOURCES.kubeStateMetrics },
            server: {
              global: { scrape_interval: args.prometheus.scrapeInterval },
              retention: "7d",
              resources: OBSERVABILITY_RESOURCES.prometheus,
            },
            ...(groups.length > 0 ? { serverFiles: { [RULE_FILE]: { groups } } } : {}),
          },
        }),
      );
    }
    if (args.prometheus.install && chart === "kube-prometheus-stack") {
      deps.push(
        release("kube-prometheus-stack", {
          name: "kube-prometheus-stack",
          chart: "kube-prometheus-stack",
          version: PROMETHEUS_CHART.kubePrometheusStack,
          repo: PROMETHEUS_CHART.repo,
          values: {
            prometheus: {
              prometheusSpec: {
                scrapeInterval: args.prometheus.scrapeInterval,
                retention: "7d",
                resources: OBSERVABILITY_RESOURCES.prometheus,
                // Select every PrometheusRule, PodMonitor and ServiceMonitor, not only the chart's.
                ruleSelectorNilUsesHelmValues: false,
                podMonitorSelectorNilUsesHelmValues: false,
                serviceMonitorSelectorNilUsesHelmValues: false,
              },
            },
            prometheusOperator: { resources: OBSERVABILITY_RESOURCES.operator },
            alertmanager: {
              alertmanagerSpec: { resources: OBSERVABILITY_RESOURCES.alertmanager },
            },
            "kube-state-metrics": { resources: OBSERVABILITY_RESOURCES.kubeStateMetrics },
            nodeExporter: { enabled: false },
            grafana: grafana
              ? {
                  enabled: true,
                  resources: OBSERVABILITY_RESOURCES.grafana,
                  sidecar: { dashboards: { enabled: true, label: Object.keys(DASHBOARD_LABEL)[0] } },
                }
              : { enabled: false },
          },
        }),
      );
    }
    if (grafana && !(args.prometheus.install && chart === "kube-prometheus-stack")) {
      release(
        "grafana",
        {
          name: "grafana",
          chart: "grafana",
          version: GRAFANA_CHART.grafana,
          repo: GRAFANA_CHART.repo,
          values: {
            resources: OBSERVABILITY_RESOURCES.grafana,
            sidecar: { dashboards: { enabled: true, label: Object.keys(DASHBOARD_LABEL)[0] } },
            datasources: {
              "datasources.yaml": {
                apiVersion: 1,
                datasources: [
                  {
                    name: "Prometheus",
                    type: "prometheus",
                    uid: "prometheus",
                    access: "proxy",
                    isDefault: true,
                    url:
                      prometheus.port === undefined ? prometheus.url : `${prometheus.url}:${prometheus.port}`,
                  },
                ],
              },
            },
          },
        },
        deps,
      );
    }
    if (args.adapter.install) {
      release(
        "adapter",
        {
          name: "prometheus-adapter",
          chart: "prometheus-adapter",
          version: PROMETHEUS_CHART.adapter,
          repo: PROMETHEUS_CHART.repo,
          values: {
            prometheus: {
              url: prometheus.url,
              ...(prometheus.port !== undefined ? { port: prometheus.port } : {}),
            },
            rules: adapterRules(),
            resources: OBSERVABILITY_RESOURCES.adapter,
          },
        },
        deps,
      );
    }
    if (args.collector?.install) {
      const exportTo = args.collector.exportTo;
      release("collector", {
        name: "otel-collector",
        chart: "opentelemetry-collector",
        version: COLLECTOR_CHART.collector,
        repo: COLLECTOR_CHART.repo,
        values: {
          mode: "deployment",
          fullnameOverride: OBSERVABILITY_SERVICES.collector.name,
          image: { repository: COLLECTOR_CHART.image },
          resources: OBSERVABILITY_RESOURCES.collector,
          config: collectorConfig(exportTo),
        },
      });
    }
    // Alert rules: PrometheusRule where the operator runs; else the plain chart's rule file when it
    // is installed here, and otherwise a ConfigMap with that file for a Prometheus of your own.
    const labels = fleetLabels("monitoring");
    if (groups.length > 0 && operator) {
      new k8s.apiextensions.CustomResource(
        `${name}-alerts`,
        {
          apiVersion: "monitoring.coreos.com/v1",
          kind: "PrometheusRule",
          metadata: { name: "agent-fleet-alerts", namespace: ns.metadata.name, labels },
          spec: { groups },
        },
        { parent: this, dependsOn: deps },
      );
    } else if (groups.length > 0 && !(args.prometheus.install && chart === "prometheus")) {
      new k8s.core.v1.ConfigMap(
        `${name}-alerts`,
        {
          metadata: { name: "agent-fleet-alerts", namespace: ns.metadata.name, labels },
          data: { [RULE_FILE]: stringify({ groups }) },
        },
        { parent: this },
      );
    }
    if (operator && args.fleet) {
      for (const [monitor, spec] of Object.entries(podMonitorSpecs(args.fleet.namespace, args.fleet.istio))) {
        new k8s.apiextensions.CustomResource(
          `${name}-${monitor}-monitor`,
          {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata: { name: `agent-fleet-${monitor}`, namespace: ns.metadata.name, labels },
            spec,
          },
          { parent: this, dependsOn: deps },
        );
      }
    }
    for (const d of dashboards) {
      new k8s.core.v1.ConfigMap(
        `${name}-dashboard-${d.name}`,
        {
          metadata: {
            name: d.name,
            namespace: ns.metadata.name,
            labels: { ...labels, ...DASHBOARD_LABEL },
          },
          data: d.data,
        },
        { parent: this },
      );
    }
    this.registerOutputs({});
  }
}
