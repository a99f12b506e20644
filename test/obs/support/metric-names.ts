/**
 * The metric names the runtime really exports, read from its own prom-client registries built the
 * way the router and agent processes build them, and the metric names a PromQL expression reads.
 * Alerts and dashboards are checked against the first with the second: a metric renamed in the
 * runtime fails every rule and panel that still reads the old name.
 */
import { Registry } from "prom-client";
import { AGENT_TYPES } from "../../../agent-runtime/src/catalog";
import { ExecuteEndpoint } from "../../../agent-runtime/src/agent/execute";
import { createExecutor } from "../../../agent-runtime/src/executors";
import { resolveExecutorSettings } from "../../../agent-runtime/src/executors/config";
import { executorMetrics } from "../../../agent-runtime/src/executors/metrics";
import { createMetrics } from "../../../agent-runtime/src/lib/metrics";
import { QueueGauges, routerResponseCounter } from "../../../agent-runtime/src/router/metrics";

/** Every series name a scrape of the router or an agent can show (histograms as _bucket/_sum/_count). */
export async function runtimeMetricNames(): Promise<Set<string>> {
  const registry = new Registry();
  const metrics = createMetrics(registry);
  new QueueGauges(registry, () => Promise.resolve([]));
  routerResponseCounter(registry);
  for (const agent of AGENT_TYPES) executorMetrics(registry, agent);
  const agent = AGENT_TYPES[0];
  const executor = createExecutor(resolveExecutorSettings(agent, { EXECUTOR: "echo" }));
  new ExecuteEndpoint({ agent, executor, concurrency: 1, maxBodyBytes: 1024, registry });
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    const type = String(metric.type);
    if (type === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(metric.name + suffix);
    } else if (type === "summary") {
      for (const suffix of ["", "_sum", "_count"]) names.add(metric.name + suffix);
    } else {
      names.add(metric.name);
    }
  }
  return names;
}

const KEYWORDS = new Set([
  "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
  "offset", "inf", "nan", "atan2",
]);

/**
 * The metric names an expression selects: identifiers outside label matchers, strings and
 * grouping clauses that are not called as functions and are not keywords. Enough for the
 * expressions this repository writes (it is checked against promtool's parser elsewhere).
 */
export function expressionMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = match[0];
    const rest = stripped.slice((match.index ?? 0) + word.length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(word.toLowerCase())) continue;
    if (/^\d/.test(word)) continue;
    // A duration or number suffix such as the "m" of "5m" is preceded by a digit.
    const before = stripped[(match.index ?? 0) - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue;
    names.add(word);
  }
  return [...names];
}
