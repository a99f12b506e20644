/**
 * What lets the HPAs see the fleet's scaling signals: Prometheus scraping the annotated pods, and
 * prometheus-adapter serving the router's backlog gauge as an External metric (and GPU use as a
 * Pods metric). Stack config's `observability` section is ObservabilityArgs as it is.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BACKLOG_AGENT_LABEL, BACKLOG_METRIC } from "../../../agent-runtime/src/contract";
import { ArgsProblems } from "../../lib/args";
import { fleetLabels } from "../../lib/labels";

export interface ObservabilityArgs {
  prometheus: {
    /** Install Prometheus (prometheus-community/prometheus) scraping annotated pods. */
    install: boolean;
    /** Namespace of Prometheus and the adapter. */
    namespace: string;
    scrapeInterval: string;
  };
  /** Install prometheus-adapter serving the backlog as an External metric (and GPU use as a Pods metric). */
  adapter: { install: boolean };
  /** Prometheus URL for the adapter. Default: the server installed in `prometheus.namespace`. */
  prometheusUrl?: string;
}

/** DCGM exporter's GPU utilisation: the adapter serves it as a Pods metric, GPU pools' HPAs read it. */
export const GPU_METRIC = "DCGM_FI_DEV_GPU_UTIL";

export const PROMETHEUS_CHART = {
  repo: "https://prometheus-community.github.io/helm-charts",
  prometheus: "27.39.0",
  adapter: "5.2.0",
};

/**
 * Requests and limits of the two servers. Scheduled with requests, so a node has room for them
 * (without, Prometheus is the first pod evicted under memory pressure and the HPAs go blind);
 * the capacity report (infra/cost) counts the same numbers.
 */
export const OBSERVABILITY_RESOURCES = {
  prometheus: { requests: { cpu: "500m", memory: "2Gi" }, limits: { memory: "4Gi" } },
  adapter: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
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

/** Prometheus and prometheus-adapter, so the HPAs can read the backlog. */
export class FleetObservability extends pulumi.ComponentResource {
  constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:FleetObservability", name, {}, opts);
    validateObservabilityArgs(name, args);
    const namespaceName = args.prometheus.namespace;
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
    const deps: pulumi.Resource[] = [];
    if (args.prometheus.install) {
      deps.push(
        new k8s.helm.v3.Release(
          `${name}-prometheus`,
          {
            name: "prometheus",
            chart: "prometheus",
            version: PROMETHEUS_CHART.prometheus,
            namespace: ns.metadata.name,
            repositoryOpts: { repo: PROMETHEUS_CHART.repo },
            values: {
              // Only the fleet's own metrics are needed (the router's backlog gauges, the agents'
              // task metrics): no node or cluster-state exporters, no alerting, no push gateway.
              alertmanager: { enabled: false },
              "prometheus-pushgateway": { enabled: false },
              "prometheus-node-exporter": { enabled: false },
              "kube-state-metrics": { enabled: false },
              server: {
                global: { scrape_interval: args.prometheus.scrapeInterval },
                retention: "7d",
                resources: OBSERVABILITY_RESOURCES.prometheus,
              },
            },
          },
          { parent: this },
        ),
      );
    }
    if (args.adapter.install) {
      new k8s.helm.v3.Release(
        `${name}-adapter`,
        {
          name: "prometheus-adapter",
          chart: "prometheus-adapter",
          version: PROMETHEUS_CHART.adapter,
          namespace: ns.metadata.name,
          repositoryOpts: { repo: PROMETHEUS_CHART.repo },
          values: {
            prometheus: {
              url: args.prometheusUrl ?? `http://prometheus-server.${namespaceName}.svc`,
              port: 80,
            },
            rules: adapterRules(),
            resources: OBSERVABILITY_RESOURCES.adapter,
          },
        },
        { parent: this, dependsOn: deps },
      );
    }
    this.registerOutputs({});
  }
}
