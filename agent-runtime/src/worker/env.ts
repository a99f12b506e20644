/**
 * The worker's environment, validated with zod at start-up. A bad value throws EnvError naming
 * the variable and what is allowed; the process should print it and exit non-zero.
 */
import { hostname } from "node:os";
import { z } from "zod";
import { AGENT_TYPES } from "../catalog";
import { DEFAULT_LOG_LEVEL, DEFAULT_PORT, RUNTIME_ENV } from "../contract";
import { parseEnv } from "../lib/env";
import { LOG_LEVELS } from "../lib/log";
import { TracingEnvShape } from "../lib/tracing";
import type { TaskQueueOptions } from "../queue/client";
import { QUEUE_ENV_SECRETS, QueueEnvShape } from "../queue/env";
import type { WorkerOptions } from "./worker";

const int = (min: number, max: number, fallback: number) =>
  z.coerce
    .number<string>({ error: `must be an integer from ${min} to ${max}` })
    .int(`must be an integer from ${min} to ${max}`)
    .min(min, `must be an integer from ${min} to ${max}`)
    .max(max, `must be an integer from ${min} to ${max}`)
    .default(fallback);

// The names infra sets come from the contract (RUNTIME_ENV); the rest are the runtime's own knobs.
export const WorkerEnvSchema = z.object({
  ...QueueEnvShape,
  ...TracingEnvShape,
  [RUNTIME_ENV.AGENT_TYPE]: z.enum(AGENT_TYPES, {
    error: (issue) =>
      issue.input === undefined
        ? `required: one of ${AGENT_TYPES.join(", ")}`
        : `must be one of ${AGENT_TYPES.join(", ")}`,
  }),
  /** Tasks run at once by this process. */
  [RUNTIME_ENV.CONCURRENCY]: int(1, 1000, 4),
  /** Lease length; renewed every LEASE_MS / 3 while a task runs. */
  LEASE_MS: int(100, 600_000, 30_000),
  /** Deliveries before a task is dead-lettered, unless the task says otherwise. */
  MAX_DELIVERIES: int(1, 100, 5),
  /** Time allowed to finish in-flight tasks after SIGTERM; keep it below the pod's grace period. */
  [RUNTIME_ENV.DRAIN_TIMEOUT_SECONDS]: int(0, 86_400, 50),
  /** The longest a task may run here: the timeout of a task that sets none, and the cap of one that does. */
  [RUNTIME_ENV.TASK_TIMEOUT_MS]: int(1, 86_400_000, 600_000),
  /** How long a finished task's status and result stay readable. */
  RESULT_TTL_SECONDS: int(1, 90 * 86_400, 86_400),
  RETRY_BASE_MS: int(1, 3_600_000, 1_000),
  RETRY_MAX_MS: int(1, 86_400_000, 300_000),
  /** How often the worker returns expired leases and promotes due retries. */
  REAP_INTERVAL_MS: int(50, 600_000, 1_000),
  /** Longest single wait on the wake marker. */
  BLOCK_TIMEOUT_MS: int(10, 60_000, 5_000),
  [RUNTIME_ENV.PORT]: int(0, 65_535, DEFAULT_PORT),
  [RUNTIME_ENV.LOG_LEVEL]: z
    .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` })
    .default(DEFAULT_LOG_LEVEL),
  /** Names this process in logs and on its tasks (default <hostname>-<pid>). */
  WORKER_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,100}$/, "must be 1-100 letters, digits, '.', '_', ':' or '-'")
    .optional(),
});

export type WorkerEnv = z.output<typeof WorkerEnvSchema> & { WORKER_ID: string };

export function loadWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const parsed = parseEnv(WorkerEnvSchema, env, { what: "worker", secrets: QUEUE_ENV_SECRETS });
  return { ...parsed, WORKER_ID: parsed.WORKER_ID ?? `${hostname()}-${process.pid}` };
}

/** The TaskQueue options a worker's environment sets. */
export function queueOptionsFromEnv(env: WorkerEnv) {
  return {
    redis: env.REDIS_URL,
    ...(env.REDIS_PASSWORD === undefined ? {} : { password: env.REDIS_PASSWORD }),
    prefix: env.QUEUE_PREFIX,
    resultTtlMs: env.RESULT_TTL_SECONDS * 1000,
    defaultMaxDeliveries: env.MAX_DELIVERIES,
  } satisfies TaskQueueOptions;
}

/** The Worker options a worker's environment sets (add queue, agent, execute, logger, metrics). */
export function workerOptionsFromEnv(env: WorkerEnv) {
  return {
    agent: env.AGENT_TYPE,
    concurrency: env.CONCURRENCY,
    leaseMs: env.LEASE_MS,
    taskTimeoutMs: env.TASK_TIMEOUT_MS,
    backoff: { baseMs: env.RETRY_BASE_MS, maxMs: env.RETRY_MAX_MS },
    reapIntervalMs: env.REAP_INTERVAL_MS,
    blockTimeoutMs: env.BLOCK_TIMEOUT_MS,
    workerId: env.WORKER_ID,
  } satisfies Partial<WorkerOptions>;
}
