/**
 * The runtime's Prometheus metrics on one prom-client Registry. The plan's names:
 *   agent_task_duration_seconds{agent_type,task_type}  histogram, one observation per delivery
 *   agent_tasks_total{agent_type,status}               counter; status = succeeded | retrying |
 *                                                        failed | dead | lease_lost | released
 *   agent_queue_depth{agent_type}                      gauge: ready tasks, all priorities
 *   model_inference_seconds{model_name}                histogram (observed by the executors)
 * Other modules (router gauges, executor token counters) register on `metrics.registry`.
 * `createMetrics()` makes an independent set (tests, or several fleets in one process).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { RUNTIME_METRICS } from "../contract";

export const TASK_OUTCOMES = ["succeeded", "retrying", "failed", "dead", "lease_lost", "released"] as const;
export type TaskOutcome = (typeof TASK_OUTCOMES)[number];

export interface RuntimeMetrics {
  registry: Registry;
  taskDuration: Histogram<"agent_type" | "task_type">;
  tasksTotal: Counter<"agent_type" | "status">;
  queueDepth: Gauge<"agent_type">;
  inferenceSeconds: Histogram<"model_name">;
}

export interface CreateMetricsOptions {
  /** Also export the Node.js process metrics (CPU, memory, event loop lag). Default true. */
  processMetrics?: boolean;
}

export function createMetrics(
  registry: Registry = new Registry(),
  options: CreateMetricsOptions = {},
): RuntimeMetrics {
  const registers = [registry];
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    taskDuration: new Histogram({
      name: RUNTIME_METRICS.taskDuration,
      help: "Time from a task's start on a worker to its outcome (one observation per delivery).",
      labelNames: ["agent_type", "task_type"] as const,
      buckets: [0.005, 0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    tasksTotal: new Counter({
      name: RUNTIME_METRICS.tasks,
      help: "Task deliveries by outcome: succeeded, retrying, failed, dead, lease_lost, released.",
      labelNames: ["agent_type", "status"] as const,
      registers,
    }),
    queueDepth: new Gauge({
      name: "agent_queue_depth",
      help: "Tasks waiting to run per agent (ready, all priorities).",
      labelNames: ["agent_type"] as const,
      registers,
    }),
    inferenceSeconds: new Histogram({
      name: RUNTIME_METRICS.inference,
      help: "Time the model took to answer one request (successful attempt), by model.",
      labelNames: ["model_name"] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320],
      registers,
    }),
  };
}

/** The process-wide set, on its own registry. */
export const metrics: RuntimeMetrics = createMetrics();
