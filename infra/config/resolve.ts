/**
 * Stack config → the validated, catalog-merged FleetConfig the program hands to the components.
 * Structural errors come from the zod schema; the cross-field rules (rules.ts) run on the merged
 * result so they see defaults too, and on whatever parsed when something did not, so one round
 * reports every error. All issues of a file are collected and thrown together.
 */
import type { z } from "zod";
import { AGENT_TYPES, agentSettings, type AgentSettings, type AgentType } from "../catalog";
import { closest, StackConfigError, valueAt, type ConfigIssue, type KeyPath } from "./errors";
import { crossFieldRules, type PartialConfig } from "./rules";
import { SECTION_SCHEMAS, stackConfigSchema, type ParsedStackConfig } from "./schema";

/** Raw stack config: the `agent-fleet:` keys without their namespace, as written in the stack file. */
export interface RawStackConfig {
  /** Shown in every error, e.g. `Pulumi.prod.yaml`. */
  file: string;
  values: Readonly<Record<string, unknown>>;
  /** Keys whose value was set with `--secret`. */
  secretKeys: ReadonlySet<string>;
  /** Problems found while reading the file (unknown namespaces, empty secure values), reported with the rest. */
  issues?: readonly ConfigIssue[];
}

/** An agent after stack config: the components' AgentSettings (the catalog owns the type). */
export type ResolvedAgent = AgentSettings;

export interface FleetConfig extends Omit<ParsedStackConfig, "agents" | "agentDefaults"> {
  /** Every agent of the catalog with overrides applied (disabled ones included). */
  agents: Record<AgentType, ResolvedAgent>;
  /** The enabled agents, in catalog order. */
  enabledAgents: ResolvedAgent[];
  /** Secret config values by key (plain here: the program wraps them with pulumi.secret). */
  secretValues: Record<string, string>;
}

type Section = keyof typeof SECTION_SCHEMAS;
const SECTION_KEYS = Object.keys(SECTION_SCHEMAS) as Section[];
const isSection = (key: string): key is Section => (SECTION_KEYS as string[]).includes(key);
/** The sections each optional, for what parsed when others did not. */
const partialConfigSchema = stackConfigSchema.partial();

/** A missing key: "required" and what is allowed, instead of zod's "expected string, received undefined". */
function requiredMessage(issue: z.core.$ZodIssue): string {
  if (issue.message.startsWith("required")) return issue.message;
  if (!issue.message.startsWith("Invalid input")) return `required: ${issue.message}`;
  return issue.code === "invalid_type" ? `required: expected ${issue.expected}` : "required";
}

function zodIssues(error: z.ZodError, values: Readonly<Record<string, unknown>>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) issues.push({ path: [...path, key], message: issue.message });
    } else if (issue.code === "invalid_key") {
      // A record key (agent name, node-pool name) outside what is allowed.
      issues.push({ path, message: issue.issues[0]?.message ?? issue.message });
    } else {
      const value = valueAt(values, path);
      issues.push(
        value === undefined
          ? { path, message: requiredMessage(issue) }
          : { path, message: issue.message, value },
      );
    }
  }
  return issues;
}

/**
 * The parts of the config that parsed, for the cross-field rules: the sections without schema
 * issues, and of `agents` every agent whose own overrides have none (`unjudged` lists the others).
 */
function parsedParts(
  sections: Record<string, unknown>,
  issues: readonly ConfigIssue[],
): { config: PartialConfig; unjudged: Set<string> } {
  const failed = new Set<string>();
  const unjudged = new Set<string>();
  for (const { path } of issues) {
    const [section, agent] = path;
    if (section === "agents" && typeof agent === "string") unjudged.add(agent);
    else if (typeof section === "string") failed.add(section);
  }
  const clean: Record<string, unknown> = { ...sections };
  for (const section of failed) delete clean[section];
  const agents = clean.agents;
  if (typeof agents === "object" && agents !== null) {
    clean.agents = Object.fromEntries(Object.entries(agents).filter(([name]) => !unjudged.has(name)));
  }
  const parsed = partialConfigSchema.safeParse(clean);
  if (!parsed.success) return { config: {}, unjudged };
  const config: PartialConfig = parsed.data;
  // A failed section with a default parsed as that default: the rules must not judge it.
  for (const section of failed) if (isSection(section)) delete config[section];
  return { config, unjudged };
}

/** agentDefaults, then agents.<name>, over the catalog (agentSettings does the catalog part). */
function mergeAgent(
  name: AgentType,
  parsed: Pick<ParsedStackConfig, "agents" | "agentDefaults" | "autoscaling">,
): ResolvedAgent {
  const { resources: sharedResources, env: sharedEnv, ...shared } = parsed.agentDefaults;
  const { resources: ownResources, env: ownEnv, ...own } = parsed.agents[name] ?? {};
  const fixed = parsed.autoscaling.mode === "fixed" ? parsed.autoscaling.replicas : undefined;
  const overrides = { ...shared, ...own };
  return agentSettings(name, {
    ...overrides,
    requests: { ...sharedResources?.requests, ...ownResources?.requests },
    limits: { ...sharedResources?.limits, ...ownResources?.limits },
    env: { ...sharedEnv, ...ownEnv },
    ...(overrides.replicas === undefined && fixed !== undefined ? { replicas: fixed } : {}),
  });
}

function mergeAgents(
  parsed: Pick<ParsedStackConfig, "agents" | "agentDefaults" | "autoscaling">,
): Record<AgentType, ResolvedAgent> {
  return Object.fromEntries(AGENT_TYPES.map((a) => [a, mergeAgent(a, parsed)])) as Record<
    AgentType,
    ResolvedAgent
  >;
}

/** Secret keys the config refers to, with the path that refers to each. */
function referencedSecretKeys(c: PartialConfig): Map<string, KeyPath> {
  const refs = new Map<string, KeyPath>();
  if (c.secrets?.backend === "pulumi") {
    c.secrets.apiKeys.forEach((p, i) => refs.set(`${p}ApiKey`, ["secrets", "apiKeys", i]));
  }
  if (c.queue?.mode === "managed") refs.set(c.queue.passwordKey, ["queue", "passwordKey"]);
  if (c.images?.source === "build" && c.images.registry.kind === "external") {
    refs.set(c.images.registry.passwordKey, ["images", "registry", "passwordKey"]);
  }
  if (c.images?.source === "prebuilt" && c.images.pull) {
    refs.set(c.images.pull.passwordKey, ["images", "pull", "passwordKey"]);
  }
  if (c.router?.tokensKey) refs.set(c.router.tokensKey, ["router", "tokensKey"]);
  return refs;
}

/** Validates one stack's config and merges the catalog in. Throws StackConfigError with every issue. */
export function resolveStackConfig(raw: RawStackConfig): FleetConfig {
  const sections: Record<string, unknown> = {};
  const others: string[] = [];
  for (const [key, value] of Object.entries(raw.values)) {
    if (isSection(key)) sections[key] = value;
    else others.push(key);
  }

  const parsed = stackConfigSchema.safeParse(sections);
  const schemaIssues = parsed.success ? [] : zodIssues(parsed.error, raw.values);
  const { config, unjudged } = parsed.success
    ? { config: parsed.data, unjudged: new Set<string>() }
    : parsedParts(sections, schemaIssues);
  const { agents: overrides, agentDefaults, autoscaling } = config;
  const agents =
    overrides && agentDefaults && autoscaling
      ? mergeAgents({ agents: overrides, agentDefaults, autoscaling })
      : undefined;
  const issues: ConfigIssue[] = [
    ...(raw.issues ?? []),
    ...schemaIssues,
    ...crossFieldRules({ config, unjudged, ...(agents ? { agents } : {}) }),
  ];

  // While a section failed, a secret key it refers to may look unreferenced: judge those later.
  const refs = referencedSecretKeys(config);
  const secretValues: Record<string, string> = {};
  for (const key of others) {
    if (refs.has(key) || (!parsed.success && raw.secretKeys.has(key))) continue;
    const suggestion = closest(key, [...SECTION_KEYS, ...refs.keys()]);
    issues.push({
      path: [key],
      message:
        (suggestion ? `unknown key (did you mean ${suggestion}?); ` : "unknown key; ") +
        `allowed keys: ${SECTION_KEYS.join(", ")}` +
        (parsed.success
          ? refs.size
            ? `, ${[...refs.keys()].join(", ")}`
            : ""
          : " and the secret keys the config refers to"),
    });
  }
  for (const [key, referencedBy] of refs) {
    const value = raw.values[key];
    if (value === undefined) {
      issues.push({
        path: [key],
        message: `is missing (referenced by ${referencedBy.join(".")}); set it with pulumi config set --secret agent-fleet:${key} <value>`,
      });
    } else if (!raw.secretKeys.has(key)) {
      issues.push({
        path: [key],
        hideValue: true,
        message: `is stored in plain text; secrets must be set with pulumi config set --secret agent-fleet:${key} <value>`,
      });
    } else {
      secretValues[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }

  if (issues.length > 0 || !parsed.success || !agents) throw new StackConfigError(raw.file, issues);
  const { agents: _overrides, agentDefaults: _shared, ...rest } = parsed.data;
  return {
    ...rest,
    agents,
    enabledAgents: AGENT_TYPES.filter((a) => agents[a].enabled).map((a) => agents[a]),
    secretValues,
  };
}
