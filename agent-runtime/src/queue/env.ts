/**
 * The variables that say where the queue is, shared by every process that connects to it (agent,
 * router, CLI): one definition, so they cannot accept different values.
 */
import { z } from "zod";
import { DEFAULT_QUEUE_PREFIX, RUNTIME_ENV } from "../contract";
import { QUEUE_PREFIX_PATTERN } from "./keys";

export const QueueEnvShape = {
  [RUNTIME_ENV.REDIS_URL]: z
    .url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL, e.g. redis://redis:6379/0" })
    .default("redis://127.0.0.1:6379/0"),
  /** Injected from a Secret; used when REDIS_URL carries no password. */
  [RUNTIME_ENV.REDIS_PASSWORD]: z.string().optional(),
  [RUNTIME_ENV.QUEUE_PREFIX]: z
    .string()
    .regex(QUEUE_PREFIX_PATTERN, "must be 1-64 letters, digits, '.', '_', ':' or '-' (no braces)")
    .default(DEFAULT_QUEUE_PREFIX),
};

/** Variables of QueueEnvShape whose values must never be printed (a URL may carry a password). */
export const QUEUE_ENV_SECRETS = [RUNTIME_ENV.REDIS_PASSWORD, RUNTIME_ENV.REDIS_URL] as const;
