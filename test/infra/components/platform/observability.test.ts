/** FleetObservability constructed alone under Pulumi mocks, with minimal Args. */
import { describe, expect, it } from "vitest";
import {
  adapterRules,
  FleetObservability,
  validateObservabilityArgs,
  type ObservabilityArgs,
} from "../../../../infra/components/platform/observability";
import { K8S, named, namesOf, underMocks } from "../../support/under-mocks";

const minimal: ObservabilityArgs = {
  prometheus: { install: true, namespace: "metrics", scrapeInterval: "30s" },
  adapter: { install: true },
};

describe("FleetObservability", () => {
  it("installs Prometheus (fleet metrics only, with requests) and the adapter serving the backlog", async () => {
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
        "kube-state-metrics": { enabled: false },
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
