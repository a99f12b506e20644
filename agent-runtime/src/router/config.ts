/** The router's environment, validated at start-up; every error names the variable. */
import { z } from "zod";
import { parseEnv } from "../lib/env";
import { LOG_LEVELS } from "../lib/log";
import { DEFAULT_QUEUE_PREFIX, QUEUE_PREFIX_PATTERN } from "../queue/keys";
import { RouterConfigError, TokenAuth } from "./auth";

export const RouterEnvSchema = z.object({
  PORT: z.coerce.number<string>().int().min(0).max(65535).default(8080),
  /** Interface to bind; 0.0.0.0 in a pod, 127.0.0.1 for `agent-fleet dev`. */
  HOST: z.string().min(1).default("0.0.0.0"),
  REDIS_URL: z
    .url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL, e.g. redis://redis:6379/0" })
    .default("redis://127.0.0.1:6379/0"),
  REDIS_PASSWORD: z.string().min(1).optional(),
  QUEUE_PREFIX: z
    .string()
    .regex(QUEUE_PREFIX_PATTERN, "must be 1-64 letters, digits, '.', '_', ':' or '-' (no braces)")
    .default(DEFAULT_QUEUE_PREFIX),
  ROUTER_AUTH: z.enum(["required", "disabled"]).default("required"),
  ROUTER_TOKENS: z.string().optional(),
  ROUTER_TOKENS_FILE: z.string().min(1).optional(),
  /** Largest accepted request body. */
  ROUTER_MAX_BODY_BYTES: z.coerce
    .number<string>()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
});
export type RouterEnv = z.infer<typeof RouterEnvSchema>;

export interface RouterConfig extends RouterEnv {
  /** Undefined when ROUTER_AUTH=disabled. */
  auth: TokenAuth | undefined;
}

export function parseRouterEnv(env: NodeJS.ProcessEnv): RouterEnv {
  return parseEnv(RouterEnvSchema, env, {
    what: "router",
    secrets: ["REDIS_PASSWORD", "REDIS_URL", "ROUTER_TOKENS"],
  });
}

export function loadRouterConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  const parsed = parseRouterEnv(env);
  if (parsed.ROUTER_AUTH === "disabled") return { ...parsed, auth: undefined };
  if (!parsed.ROUTER_TOKENS && !parsed.ROUTER_TOKENS_FILE) {
    throw new RouterConfigError(
      "ROUTER_AUTH=required but neither ROUTER_TOKENS_FILE nor ROUTER_TOKENS is set; give tokens or set ROUTER_AUTH=disabled",
    );
  }
  const auth = new TokenAuth({ file: parsed.ROUTER_TOKENS_FILE, list: parsed.ROUTER_TOKENS });
  if (auth.size === 0) {
    throw new RouterConfigError(
      `ROUTER_AUTH=required but ${parsed.ROUTER_TOKENS_FILE ? `ROUTER_TOKENS_FILE=${parsed.ROUTER_TOKENS_FILE}` : "ROUTER_TOKENS"} holds no token`,
    );
  }
  return { ...parsed, auth };
}
