/**
 * Metrics alerts and dashboards read that the runtime does not export, by the exporter that does.
 * The runtime's own names are never listed here: they come from its registry (contract.ts and the
 * metrics modules), so a rename fails the checks in test/obs and test/infra/observability.
 */
export const EXTERNAL_METRICS = {
  /** Prometheus itself, for every scrape target. */
  prometheus: ["up"],
  /** The kubelet's cAdvisor endpoint (both Prometheus charts scrape it). */
  cadvisor: [
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "container_spec_memory_limit_bytes",
  ],
  /** kube-state-metrics (a dependency of both charts; FleetObservability turns it on). */
  kubeStateMetrics: [
    "kube_pod_container_status_restarts_total",
    "kube_pod_container_status_last_terminated_reason",
    "kube_pod_container_resource_limits",
    "kube_pod_container_resource_requests",
    "kube_pod_status_phase",
    "kube_horizontalpodautoscaler_spec_max_replicas",
    "kube_horizontalpodautoscaler_spec_min_replicas",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_status_desired_replicas",
    "kube_statefulset_status_replicas_ready",
    "kube_deployment_status_replicas_available",
    "kube_job_status_failed",
    "kube_job_failed",
  ],
} as const;

export type ExternalMetric = (typeof EXTERNAL_METRICS)[keyof typeof EXTERNAL_METRICS][number];

/** Every external name, for checks. */
export const EXTERNAL_METRIC_NAMES: ReadonlySet<string> = new Set(Object.values(EXTERNAL_METRICS).flat());
