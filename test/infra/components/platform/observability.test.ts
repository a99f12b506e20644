/** FleetObservability constructed alone under Pulumi mocks, with minimal Args. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  adapterRules,
  FleetObservability,
  validateObservabilityArgs,
  type ObservabilityArgs,
} from "../../../../infra/components/platform/observability";
import { K8S, named, namesOf, ofType, underMocks } from "../../support/under-mocks";

const minimal: ObservabilityArgs = {
  prometheus: { install: true, namespace: "metrics", scrapeInterval: "30s" },
  adapter: { install: true },
};

describe("FleetObservability", () => {
  it("installs Prometheus (fleet metrics, cAdvisor, kube-state-metrics; with requests) and the adapter serving the backlog", async () => {
    const { mocks } = await underMocks(() => new FleetObservability("observability", minimal));
    expect(named(mocks, K8S.Namespace, "observability-namespace").inputs.metadata).toMatchObject({
      name: "metrics",
      labels: {
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/warn": "restricted",
      },
    });
    expect(named(mocks, K8S.HelmRelease, "observability-prometheus").inputs).toMatchObject({
      chart: "prometheus",
      version: "27.39.0",
      namespace: "metrics",
      values: {
        alertmanager: { enabled: false },
        "prometheus-node-exporter": { enabled: false },
        "kube-state-metrics": { enabled: true, resources: { requests: { cpu: "50m", memory: "128Mi" } } },
        server: {
          global: { scrape_interval: "30s" },
          resources: { requests: { cpu: "500m", memory: "2Gi" }, limits: { memory: "4Gi" } },
        },
      },
    });
    expect(named(mocks, K8S.HelmRelease, "observability-adapter").inputs).toMatchObject({
      chart: "prometheus-adapter",
      version: "5.2.0",
      values: {
        prometheus: { url: "http://prometheus-server.metrics.svc", port: 80 },
        rules: adapterRules(),
        resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
      },
    });
  });

  it("the adapter alone points at the Prometheus it is given", async () => {
    const { mocks } = await underMocks(
      () =>
        new FleetObservability("observability", {
          ...minimal,
          prometheus: { ...minimal.prometheus, install: false },
          prometheusUrl: "http://thanos.metrics.svc:9090",
        }),
    );
    expect(namesOf(mocks, K8S.HelmRelease)).toEqual(["observability-adapter"]);
    expect(named(mocks, K8S.HelmRelease, "observability-adapter").inputs.values).toMatchObject({
      prometheus: { url: "http://thanos.metrics.svc:9090" },
    });
  });

  const groups = [{ name: "agent-fleet", rules: [{ alert: "AgentDeadLetters", expr: "vector(1)" }] }];
  const dashboards = [{ name: "agent-fleet-performance", data: { "perf.json": "{}" } }];

  it("puts the alert rules in the plain chart's rule file, with Alertmanager to route them", async () => {
    const { mocks } = await underMocks(
      () => new FleetObservability("observability", { ...minimal, alertGroups: groups }),
    );
    expect(named(mocks, K8S.HelmRelease, "observability-prometheus").inputs.values).toMatchObject({
      alertmanager: { enabled: true },
      serverFiles: { "alerting_rules.yml": { groups } },
    });
    expect(ofType(mocks, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")).toEqual([]);
    expect(ofType(mocks, K8S.ConfigMap)).toEqual([]);
  });

  it("with kube-prometheus-stack: the operator's chart, PrometheusRule, PodMonitors and Grafana's sidecar", async () => {
    const { mocks } = await underMocks(
      () =>
        new FleetObservability("observability", {
          ...minimal,
          prometheus: { ...minimal.prometheus, chart: "kube-prometheus-stack" },
          fleet: { namespace: "agents", istio: true },
          alertGroups: groups,
          dashboards,
          grafana: { install: true },
        }),
    );
    expect(namesOf(mocks, K8S.HelmRelease).sort()).toEqual([
      "observability-adapter",
      "observability-kube-prometheus-stack",
    ]);
    expect(named(mocks, K8S.HelmRelease, "observability-kube-prometheus-stack").inputs).toMatchObject({
      chart: "kube-prometheus-stack",
      version: "88.6.2",
      values: {
        prometheus: { prometheusSpec: { ruleSelectorNilUsesHelmValues: false, scrapeInterval: "30s" } },
        grafana: { enabled: true, sidecar: { dashboards: { enabled: true, label: "grafana_dashboard" } } },
      },
    });
    expect(named(mocks, K8S.HelmRelease, "observability-adapter").inputs.values).toMatchObject({
      prometheus: { url: "http://kube-prometheus-stack-prometheus.metrics.svc", port: 9090 },
    });
    const rule = named(mocks, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "observability-alerts");
    expect(rule.inputs).toMatchObject({ metadata: { namespace: "metrics" }, spec: { groups } });
    // Behind Istio the app port speaks mTLS only: the operator scrapes the sidecar's merged port.
    const agents = named(
      mocks,
      "kubernetes:monitoring.coreos.com/v1:PodMonitor",
      "observability-agents-monitor",
    );
    expect(agents.inputs.spec).toEqual({
      namespaceSelector: { matchNames: ["agents"] },
      selector: {
        matchLabels: { "app.kubernetes.io/part-of": "agent-fleet", "app.kubernetes.io/component": "agent" },
      },
      podMetricsEndpoints: [{ targetPort: 15020, path: "/stats/prometheus" }],
    });
    expect(
      named(mocks, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "observability-router-monitor").inputs
        .spec,
    ).toMatchObject({ selector: { matchLabels: { "app.kubernetes.io/name": "task-router" } } });
    expect(
      named(mocks, K8S.ConfigMap, "observability-dashboard-agent-fleet-performance").inputs.metadata,
    ).toMatchObject({ namespace: "metrics", labels: { grafana_dashboard: "1" } });
  });

  it("for a Prometheus of your own: the rule file as a ConfigMap; Grafana and the collector by their charts", async () => {
    const { mocks } = await underMocks(
      () =>
        new FleetObservability("observability", {
          prometheus: { install: false, namespace: "metrics", scrapeInterval: "15s" },
          adapter: { install: false },
          prometheusUrl: "http://prom.metrics.svc:9090",
          alertGroups: groups,
          grafana: { install: true },
          collector: { install: true, exportTo: "http://jaeger.tracing.svc:4318" },
        }),
    );
    const rules = named(mocks, K8S.ConfigMap, "observability-alerts").inputs as {
      data: Record<string, string>;
    };
    expect(rules.data["alerting_rules.yml"]).toContain("alert: AgentDeadLetters");
    expect(named(mocks, K8S.HelmRelease, "observability-grafana").inputs).toMatchObject({
      chart: "grafana",
      version: "10.5.15",
      values: {
        datasources: { "datasources.yaml": { datasources: [{ url: "http://prom.metrics.svc:9090" }] } },
      },
    });
    expect(named(mocks, K8S.HelmRelease, "observability-collector").inputs).toMatchObject({
      chart: "opentelemetry-collector",
      values: {
        fullnameOverride: "otel-collector",
        config: {
          exporters: { otlphttp: { endpoint: "http://jaeger.tracing.svc:4318" } },
          service: { pipelines: { traces: { receivers: ["otlp"], exporters: ["otlphttp"] } } },
        },
      },
    });
  });

  it("serves the backlog as max per agent (every router replica exports the same gauges) and GPU use per pod", () => {
    expect(adapterRules()).toEqual({
      default: false,
      external: [
        {
          seriesQuery: 'agent_queue_backlog{agent_type!=""}',
          resources: { overrides: { namespace: { resource: "namespace" } } },
          name: { as: "agent_queue_backlog" },
          metricsQuery: "max(agent_queue_backlog{<<.LabelMatchers>>}) by (agent_type)",
        },
      ],
      custom: [
        {
          seriesQuery: 'DCGM_FI_DEV_GPU_UTIL{namespace!="",pod!=""}',
          resources: { overrides: { namespace: { resource: "namespace" }, pod: { resource: "pod" } } },
          name: { as: "DCGM_FI_DEV_GPU_UTIL" },
          metricsQuery: "avg(DCGM_FI_DEV_GPU_UTIL{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
        },
      ],
    });
  });

  it("docs/operations.md shows the adapter rule for a cluster's own adapter exactly as the stack renders it", () => {
    const doc = readFileSync(join(__dirname, "../../../../docs/operations.md"), "utf8");
    const section = doc.slice(doc.indexOf("**One External-metrics adapter per cluster.**"));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(parse(block ?? "")).toEqual(adapterRules().external);
  });

  it("validates with property paths", () => {
    expect(() =>
      validateObservabilityArgs("observability", {
        ...minimal,
        prometheus: { install: true, namespace: "Metrics", scrapeInterval: "often" },
      }),
    ).toThrow(
      'FleetObservability "observability": prometheus.namespace: "Metrics" is not a DNS-1123 label; ' +
        'prometheus.scrapeInterval: "often" is not a duration such as "15s"',
    );
  });
});
