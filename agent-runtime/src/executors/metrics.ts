/**
 * Prometheus counters for the executors, registered on the runtime's registry beside the
 * plan's `model_inference_seconds{model_name}` histogram (which the shared metrics module
 * owns; it is looked up by name, and created here only when that module has not registered it).
 * One set of metric objects per registry: the local fleet runs 12 agents in one process.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { AgentType } from "../catalog";
import { RUNTIME_METRICS } from "../contract";
import type { ExecutorObserver } from "./types";

interface ExecutorMetricSet {
  inference: Histogram<"model_name">;
  tokens: Counter<"agent_type" | "model_name" | "direction">;
  requests: Counter<"agent_type" | "model_name" | "outcome">;
  retries: Counter<"agent_type" | "model_name" | "reason">;
}

const byRegistry = new WeakMap<Registry, ExecutorMetricSet>();

function metricSet(registry: Registry): ExecutorMetricSet {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const found = registry.getSingleMetric(RUNTIME_METRICS.inference);
  const inference =
    found instanceof Histogram
      ? (found as Histogram<"model_name">)
      : new Histogram({
          name: RUNTIME_METRICS.inference,
          help: "Time the model took to answer one request (successful attempt), by model.",
          labelNames: ["model_name"] as const,
          buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320],
          registers,
        });
  const set: ExecutorMetricSet = {
    inference,
    tokens: new Counter({
      name: RUNTIME_METRICS.llmTokens,
      help: "Tokens the LLM backend reported, by direction (input = prompt, output = completion).",
      labelNames: ["agent_type", "model_name", "direction"] as const,
      registers,
    }),
    requests: new Counter({
      name: "agent_llm_requests_total",
      help: "Executor calls by outcome: ok, timeout, network, http, rate_limited, malformed_response, aborted.",
      labelNames: ["agent_type", "model_name", "outcome"] as const,
      registers,
    }),
    retries: new Counter({
      name: "agent_llm_retries_total",
      help: "HTTP retries inside one executor call, by reason: rate_limited, server_error, network.",
      labelNames: ["agent_type", "model_name", "reason"] as const,
      registers,
    }),
  };
  byRegistry.set(registry, set);
  return set;
}

/** An ExecutorObserver for one agent that records into `registry`. */
export function executorMetrics(registry: Registry, agent: AgentType): ExecutorObserver {
  const m = metricSet(registry);
  return {
    inference: (model, seconds) => m.inference.observe({ model_name: model }, seconds),
    tokens: (model, usage) => {
      if (usage.inputTokens > 0)
        m.tokens.inc({ agent_type: agent, model_name: model, direction: "input" }, usage.inputTokens);
      if (usage.outputTokens > 0) {
        m.tokens.inc({ agent_type: agent, model_name: model, direction: "output" }, usage.outputTokens);
      }
    },
    request: (model, outcome) => m.requests.inc({ agent_type: agent, model_name: model, outcome }),
    retry: (model, reason) => m.retries.inc({ agent_type: agent, model_name: model, reason }),
  };
}
