/**
 * Trace export of the fleet's pods: where the runtime sends OTLP/HTTP spans, and how much it
 * samples. AgentFleet sets the runtime's tracing variables on agents and router from it and opens
 * the egress NetworkPolicies need.
 */
import type { FleetNetworkPoliciesArgs } from "./network-policies";

export interface TracingArgs {
  /** OTLP/HTTP endpoint, such as the collector's `http://otel-collector.monitoring.svc:4318`. */
  endpoint: string;
  /** Share of new traces sampled (0..1); a sampled caller's trace is always continued. */
  sampleRatio: number;
  /** Namespace of an in-cluster collector (egress goes there only); unset: anywhere on the port. */
  collectorNamespace?: string;
}

/** The endpoint's port (the scheme's default when the URL names none). */
export function endpointPort(endpoint: string): number {
  const url = new URL(endpoint);
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

/** The egress the trace export needs, for FleetNetworkPolicies. */
export function traceExportPolicy(
  tracing: TracingArgs,
): NonNullable<FleetNetworkPoliciesArgs["traceExport"]> {
  return {
    port: endpointPort(tracing.endpoint),
    ...(tracing.collectorNamespace ? { namespace: tracing.collectorNamespace } : {}),
  };
}
