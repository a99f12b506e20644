/**
 * Executor settings: the agent's profile (`agent.json` + `system-prompt.md` under
 * `images/agents/<type>/`, shipped in the image) overridden by environment variables.
 * Everything is validated with zod at start-up; every error names the variable or the file.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { AgentType } from "../catalog";
import { API_KEY_ENV, EXECUTOR_KINDS, RUNTIME_ENV, type ExecutorKind } from "../contract";
import { parseEnv } from "../lib/env";
import { ExecutorConfigError } from "./errors";
import type { RetryPolicy } from "./http";

export const DEFAULT_BASE_URLS: Record<Exclude<ExecutorKind, "echo">, string> = {
  openai: "https://api.openai.com/v1",
  anthropic: "https://api.anthropic.com",
};

/** `images/agents/<type>/agent.json`. */
export const AgentProfileSchema = z.strictObject({
  $schema: z.string().optional(),
  description: z.string().min(1).optional(),
  /** Which API the agent speaks unless EXECUTOR says otherwise. */
  executor: z.enum(EXECUTOR_KINDS),
  model: z.string().min(1),
  /** For `openai`: the server's /v1 URL (a local llama.cpp/vLLM sidecar or a hosted API). */
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  temperature: z.number().min(0).max(2),
  maxTokens: z.int().min(1).max(1_000_000),
  /** Per-request timeout; long generations on CPU need more than hosted APIs. */
  timeoutMs: z.int().min(1).optional(),
});
export type AgentProfile = z.infer<typeof AgentProfileSchema>;

const optionalInt = (min: number, max: number) =>
  z.coerce.number<string>().int("must be an integer").min(min).max(max).optional();

/** The executor's environment (parsed by lib/env: empty strings count as unset). */
export const ExecutorEnvSchema = z.object({
  [RUNTIME_ENV.EXECUTOR]: z.enum(EXECUTOR_KINDS).optional(),
  [RUNTIME_ENV.LLM_BASE_URL]: z.url({ protocol: /^https?$/ }).optional(),
  [RUNTIME_ENV.LLM_MODEL]: z.string().min(1).optional(),
  LLM_API_KEY: z.string().min(1).optional(),
  [API_KEY_ENV.openai]: z.string().min(1).optional(),
  [API_KEY_ENV.anthropic]: z.string().min(1).optional(),
  LLM_TEMPERATURE: z.coerce.number<string>().min(0).max(2).optional(),
  LLM_MAX_TOKENS: optionalInt(1, 1_000_000),
  LLM_TIMEOUT_MS: optionalInt(1, 3_600_000),
  LLM_MAX_RETRIES: optionalInt(0, 10),
  LLM_RETRY_BASE_MS: optionalInt(1, 60_000),
  LLM_RETRY_MAX_MS: optionalInt(1, 600_000),
  AGENT_CONFIG_DIR: z.string().min(1).optional(),
  /** Echo executor only: pretend each task takes this long (demos, load tests). */
  ECHO_DELAY_MS: optionalInt(0, 3_600_000),
});
export type ExecutorEnv = z.infer<typeof ExecutorEnvSchema>;

export interface ExecutorSettings {
  agent: AgentType;
  kind: ExecutorKind;
  model: string;
  /** Empty for `echo`. */
  baseUrl: string;
  apiKey: string | undefined;
  temperature: number;
  maxTokens: number;
  timeoutMs: number;
  retry: RetryPolicy;
  systemPrompt: string;
  configDir: string;
  echoDelayMs: number;
}

export const DEFAULT_TIMEOUT_MS = 120_000;
export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 30_000 };

/** Parse the executor variables out of an environment; the EnvError lists every bad variable. */
export function parseExecutorEnv(env: NodeJS.ProcessEnv): ExecutorEnv {
  return parseEnv(ExecutorEnvSchema, env, {
    what: "executor",
    secrets: ["LLM_API_KEY", ...Object.values(API_KEY_ENV)],
  });
}

/**
 * Where the agent's profile lives: AGENT_CONFIG_DIR, else `images/agents/<type>` found from this
 * file (src/ or dist/ two levels under agent-runtime/, so the same path works in the repository
 * and in the image's /app), else the image's absolute /app/images/agents/<type>.
 */
export function defaultConfigDir(agent: AgentType): string {
  const candidates = [
    path.resolve(__dirname, "..", "..", "..", "images", "agents", agent),
    path.join("/app/images/agents", agent),
  ];
  return candidates.find((dir) => existsSync(path.join(dir, "agent.json"))) ?? candidates[0]!;
}

export function loadAgentProfile(dir: string): { profile: AgentProfile; systemPrompt: string } {
  const jsonPath = path.join(dir, "agent.json");
  const promptPath = path.join(dir, "system-prompt.md");
  const profile = AgentProfileSchema.safeParse(readJson(jsonPath));
  if (!profile.success) {
    const lines = profile.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ExecutorConfigError(`${jsonPath} is not a valid agent profile:\n${lines.join("\n")}`);
  }
  const systemPrompt = readText(promptPath).trim();
  if (!systemPrompt)
    throw new ExecutorConfigError(`${promptPath} is empty; it holds the agent's system prompt`);
  return { profile: profile.data, systemPrompt };
}

/** Profile file values, overridden by the environment. */
export function resolveExecutorSettings(
  agent: AgentType,
  env: NodeJS.ProcessEnv = process.env,
): ExecutorSettings {
  const vars = parseExecutorEnv(env);
  const configDir = vars.AGENT_CONFIG_DIR ? path.resolve(vars.AGENT_CONFIG_DIR) : defaultConfigDir(agent);
  const { profile, systemPrompt } = loadAgentProfile(configDir);
  const kind = vars.EXECUTOR ?? profile.executor;
  const retry: RetryPolicy = {
    maxRetries: vars.LLM_MAX_RETRIES ?? DEFAULT_RETRY.maxRetries,
    baseDelayMs: vars.LLM_RETRY_BASE_MS ?? DEFAULT_RETRY.baseDelayMs,
    maxDelayMs: vars.LLM_RETRY_MAX_MS ?? DEFAULT_RETRY.maxDelayMs,
  };
  const common = {
    agent,
    kind,
    temperature: vars.LLM_TEMPERATURE ?? profile.temperature,
    maxTokens: vars.LLM_MAX_TOKENS ?? profile.maxTokens,
    timeoutMs: vars.LLM_TIMEOUT_MS ?? profile.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retry,
    systemPrompt,
    configDir,
    echoDelayMs: vars.ECHO_DELAY_MS ?? 0,
  };
  if (kind === "echo") return { ...common, model: "echo", baseUrl: "", apiKey: undefined };

  // A profile's baseUrl belongs to the API it names; switching EXECUTOR drops it.
  const profileBaseUrl = profile.executor === kind ? profile.baseUrl : undefined;
  const baseUrl = (vars.LLM_BASE_URL ?? profileBaseUrl ?? DEFAULT_BASE_URLS[kind]).replace(/\/+$/, "");
  const model = vars.LLM_MODEL ?? (profile.executor === kind ? profile.model : undefined);
  if (!model) {
    throw new ExecutorConfigError(
      `EXECUTOR=${kind} but ${path.join(configDir, "agent.json")} describes a ${profile.executor} model; set LLM_MODEL`,
    );
  }
  const apiKey = vars.LLM_API_KEY ?? vars[API_KEY_ENV[kind]];
  if (kind === "anthropic" && !apiKey) {
    throw new ExecutorConfigError(
      `the ${agent} agent uses the anthropic executor but neither LLM_API_KEY nor ANTHROPIC_API_KEY is set`,
    );
  }
  // OpenAI-compatible servers on localhost (llama.cpp, vLLM sidecars) usually need no key, so
  // a missing key is not an error here; a hosted API answers 401 and the error says which
  // variables to set.
  return { ...common, model, baseUrl, apiKey };
}

/** Echo settings that need no profile files: for embedding the runtime (tests, demos). */
export function echoSettings(agent: AgentType, echoDelayMs = 0): ExecutorSettings {
  return {
    agent,
    kind: "echo",
    model: "echo",
    baseUrl: "",
    apiKey: undefined,
    temperature: 0,
    maxTokens: 1,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    retry: DEFAULT_RETRY,
    systemPrompt: "",
    configDir: "",
    echoDelayMs,
  };
}

function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ExecutorConfigError(
      `${file} is not valid JSON: ${error instanceof Error ? error.message : ""}`,
    );
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    throw new ExecutorConfigError(
      `cannot read ${file}; set AGENT_CONFIG_DIR to the folder holding agent.json and system-prompt.md`,
    );
  }
}
