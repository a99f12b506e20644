/** The router's environment, validated at start-up; every error names the variable. */
import { z } from "zod";
import { DEFAULT_LOG_LEVEL, DEFAULT_PORT, RUNTIME_ENV } from "../contract";
import { parseEnv } from "../lib/env";
import { LOG_LEVELS } from "../lib/log";
import { TracingEnvShape } from "../lib/tracing";
import { QUEUE_ENV_SECRETS, QueueEnvShape } from "../queue/env";
import { RouterConfigError, TokenAuth } from "./auth";

// The names infra sets come from the contract (RUNTIME_ENV); the rest are the router's own knobs.
export const RouterEnvSchema = z.object({
  [RUNTIME_ENV.PORT]: z.coerce.number<string>().int().min(0).max(65535).default(DEFAULT_PORT),
  /** Interface to bind; 0.0.0.0 in a pod, 127.0.0.1 for `agent-fleet dev`. */
  HOST: z.string().min(1).default("0.0.0.0"),
  ...QueueEnvShape,
  ...TracingEnvShape,
  [RUNTIME_ENV.ROUTER_AUTH]: z.enum(["required", "disabled"]).default("required"),
  ROUTER_TOKENS: z.string().optional(),
  [RUNTIME_ENV.ROUTER_TOKENS_FILE]: z.string().min(1).optional(),
  /** Largest accepted request body. */
  ROUTER_MAX_BODY_BYTES: z.coerce
    .number<string>()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  [RUNTIME_ENV.LOG_LEVEL]: z
    .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` })
    .default(DEFAULT_LOG_LEVEL),
});
export type RouterEnv = z.infer<typeof RouterEnvSchema>;

export interface RouterConfig extends RouterEnv {
  /** Undefined when ROUTER_AUTH=disabled. */
  auth: TokenAuth | undefined;
}

export function parseRouterEnv(env: NodeJS.ProcessEnv): RouterEnv {
  return parseEnv(RouterEnvSchema, env, {
    what: "router",
    secrets: [...QUEUE_ENV_SECRETS, "ROUTER_TOKENS"],
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
