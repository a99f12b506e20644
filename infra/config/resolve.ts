/**
 * Stack config → the validated, catalog-merged FleetConfig the program hands to the components.
 * Structural errors come from the zod schema; the cross-field rules below run on the merged result
 * so they see defaults too. All issues of a file are collected and thrown together.
 */
import type { z } from "zod";
import { AGENT_TYPES, agentSettings, type AgentSettings, type AgentType } from "../catalog";
import { parseQuantity } from "../lib/quantity";
import { NODE_LOCAL_STORAGE_CLASSES } from "../lib/storage";
import { StackConfigError, valueAt, type ConfigIssue, type KeyPath } from "./errors";
import { SECTION_SCHEMAS, stackConfigSchema, type ParsedStackConfig } from "./schema";

/** Raw stack config: the `agent-fleet:` keys without their namespace, as written in the stack file. */
export interface RawStackConfig {
  /** Shown in every error, e.g. `Pulumi.prod.yaml`. */
  file: string;
  values: Readonly<Record<string, unknown>>;
  /** Keys whose value was set with `--secret`. */
  secretKeys: ReadonlySet<string>;
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

type Resources = { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };

const SECTION_KEYS = Object.keys(SECTION_SCHEMAS);

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
      issues.push({ path, message: issue.message, ...(value === undefined ? {} : { value }) });
    }
  }
  return issues;
}

/** agentDefaults, then agents.<name>, over the catalog (agentSettings does the catalog part). */
function mergeAgent(name: AgentType, parsed: ParsedStackConfig): ResolvedAgent {
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

/** limits >= requests, per resource, reported at the limit's key. */
function checkResources(resources: Resources, path: KeyPath, issues: ConfigIssue[]): void {
  for (const resource of ["cpu", "memory"] as const) {
    const request = resources.requests[resource];
    const limit = resources.limits[resource];
    if (parseQuantity(limit) < parseQuantity(request)) {
      issues.push({
        path: [...path, "limits", resource],
        value: limit,
        message: `must be >= requests.${resource} (${request})`,
      });
    }
  }
}

/** Secret keys the config refers to, with the path that refers to each. */
function referencedSecretKeys(c: ParsedStackConfig): Map<string, KeyPath> {
  const refs = new Map<string, KeyPath>();
  if (c.secrets.backend === "pulumi") {
    c.secrets.apiKeys.forEach((p, i) => refs.set(`${p}ApiKey`, ["secrets", "apiKeys", i]));
  }
  if (c.queue.mode === "managed") refs.set(c.queue.passwordKey, ["queue", "passwordKey"]);
  if (c.images.source === "build" && c.images.registry.kind === "external") {
    refs.set(c.images.registry.passwordKey, ["images", "registry", "passwordKey"]);
  }
  if (c.router.tokensKey) refs.set(c.router.tokensKey, ["router", "tokensKey"]);
  return refs;
}

function crossFieldRules(c: ParsedStackConfig, agents: Record<AgentType, ResolvedAgent>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const hpa = c.autoscaling.mode === "hpa";
  const llm = c.runtime.executor === "llm";
  const overrides = c.agents;
  const enabled = AGENT_TYPES.filter((a) => agents[a].enabled);
  if (enabled.length === 0) {
    issues.push({ path: ["agents"], message: "every agent is disabled; enable at least one" });
  }

  const pools = c.cluster.provider === "existing" ? undefined : new Set(Object.keys(c.cluster.nodePools));
  const fileNames = new Set(c.models.files.map((f) => f.name));
  const localAgents: AgentType[] = [];

  for (const name of enabled) {
    const a = agents[name];
    const o = overrides[name] ?? {};
    const at = (...rest: (string | number)[]): KeyPath => ["agents", name, ...rest];
    if (a.minReplicas > a.maxReplicas) {
      if (o.maxReplicas !== undefined || o.minReplicas === undefined) {
        issues.push({
          path: at("maxReplicas"),
          value: a.maxReplicas,
          message: `must be >= minReplicas (${a.minReplicas})`,
        });
      } else {
        issues.push({
          path: at("minReplicas"),
          value: a.minReplicas,
          message: `must be <= maxReplicas (${a.maxReplicas})`,
        });
      }
    }
    if (hpa && a.minReplicas < 1) {
      issues.push({
        path: at("minReplicas"),
        value: a.minReplicas,
        message:
          "must be >= 1 under autoscaling.mode hpa (scale to zero needs the HPAScaleToZero feature gate)",
      });
    }
    if (hpa && o.replicas !== undefined) {
      issues.push({
        path: at("replicas"),
        value: o.replicas,
        message: "is only used with autoscaling.mode fixed; under hpa set minReplicas and maxReplicas",
      });
    }
    checkResources({ requests: a.requests, limits: a.limits }, at("resources"), issues);
    if (pools && !pools.has(a.nodePool)) {
      issues.push({
        path: at("nodePool"),
        value: a.nodePool,
        message: `no node pool "${a.nodePool}" in cluster.nodePools (defined: ${[...pools].join(", ")})`,
      });
    }
    if (!llm) continue;
    if (a.model.kind === "local") {
      localAgents.push(name);
      if (!fileNames.has(a.model.file)) {
        issues.push({
          path: at("model", "file"),
          value: a.model.file,
          message: `no entry in models.files is named "${a.model.file}"; add { name, url, sha256 } to models.files`,
        });
      }
    } else if (!a.model.baseUrl && !c.secrets.apiKeys.includes(a.model.provider)) {
      issues.push({
        path: at("model", "provider"),
        value: a.model.provider,
        message:
          `needs an API key: add "${a.model.provider}" to secrets.apiKeys` +
          (c.secrets.backend === "pulumi"
            ? ` and run pulumi config set --secret agent-fleet:${a.model.provider}ApiKey <key>`
            : ""),
      });
    }
  }

  checkResources(c.router.resources, ["router", "resources"], issues);
  if (c.queue.mode === "in-cluster") checkResources(c.queue.resources, ["queue", "resources"], issues);

  const seen = new Set<string>();
  c.models.files.forEach((f, i) => {
    if (seen.has(f.name))
      issues.push({ path: ["models", "files", i, "name"], value: f.name, message: "is listed twice" });
    seen.add(f.name);
  });

  if (localAgents.length > 0) {
    const why = `required because agent ${localAgents.join(", ")} uses a local model`;
    checkResources(c.models.sidecar.resources, ["models", "sidecar", "resources"], issues);
    if (!c.models.backend) issues.push({ path: ["models", "backend"], message: why });
    if (!c.models.sidecar.image) issues.push({ path: ["models", "sidecar", "image"], message: why });
    if (!c.models.loaderImage) issues.push({ path: ["models", "loaderImage"], message: why });
  }
  const backend = c.models.backend;
  if (backend) {
    const needs: Record<string, string | undefined> = {
      filestore: "gke",
      "hyperdisk-ml": "gke",
      "gcs-fuse": "gke",
      "hcloud-nfs": "hetzner-k3s",
    };
    const provider = needs[backend.kind];
    if (provider && provider !== c.cluster.provider) {
      issues.push({
        path: ["models", "backend", "kind"],
        value: backend.kind,
        message: `needs cluster.provider "${provider}" (this stack uses "${c.cluster.provider}")`,
      });
    }
    if (backend.kind === "storage-class" && NODE_LOCAL_STORAGE_CLASSES.has(backend.storageClass)) {
      issues.push({
        path: ["models", "backend", "storageClass"],
        value: backend.storageClass,
        message:
          `provisions ReadWriteOnce volumes that cannot be shared across nodes; ` +
          `use a class that supports ${backend.accessMode} (NFS, CephFS, Filestore, Longhorn RWX)`,
      });
    }
  }

  const canary = c.mesh.istio.canary;
  if (canary) {
    if (!agents[canary.agent].enabled) {
      issues.push({
        path: ["mesh", "istio", "canary", "agent"],
        value: canary.agent,
        message: `agent "${canary.agent}" is disabled (agents.${canary.agent}.enabled = false); a canary needs an enabled agent`,
      });
    }
    if (!c.mesh.istio.enabled) {
      issues.push({
        path: ["mesh", "istio", "enabled"],
        value: false,
        message: "must be true when mesh.istio.canary is set",
      });
    }
    if (canary.image === undefined && c.images.source === "prebuilt") {
      issues.push({
        path: ["mesh", "istio", "canary", "image"],
        message:
          "required with images.source: prebuilt (give the canary's image by digest; with images.source: build it is built with the others)",
      });
    }
  }
  issues.push(...digestRules(c, enabled));
  c.models.files.forEach((file, i) => {
    if (/^0{64}$/.test(file.sha256)) {
      issues.push({
        path: ["models", "files", i, "sha256"],
        value: file.sha256,
        message:
          `is the all-zero placeholder for "${file.name}": the loader refuses the file, so the agents ` +
          `serving it never become ready. Set the file's published sha256: on Hugging Face, the file's page ` +
          `shows it under "Git LFS Details" (SHA256), or download once and run \`sha256sum ${file.name}\``,
      });
    }
  });
  const ingress = c.mesh.istio.ingress;
  if (ingress && RESERVED_DOMAIN.test(ingress.host)) {
    issues.push({
      path: ["mesh", "istio", "ingress", "host"],
      value: ingress.host,
      message:
        "is a reserved example domain (RFC 2606), not a host clients can reach: set the router's real public host name (its DNS record points at the ingress gateway's load balancer)",
    });
  }

  if (c.cluster.provider !== "existing") {
    const nodePools: Record<string, { minNodes: number; maxNodes: number }> = c.cluster.nodePools;
    for (const [pool, p] of Object.entries(nodePools)) {
      if (p.minNodes > p.maxNodes) {
        issues.push({
          path: ["cluster", "nodePools", pool, "minNodes"],
          value: p.minNodes,
          message: `must be <= maxNodes (${p.maxNodes})`,
        });
      }
    }
  }
  return issues;
}

const PINNED = /@sha256:[a-f0-9]{64}$/;
const RESERVED_DOMAIN = /(^|\.)(example\.(com|net|org)|invalid|test|localhost)$/;

/** With images.requireDigests, every image the stack runs must be pinned by digest. */
function digestRules(c: ParsedStackConfig, enabled: readonly AgentType[]): ConfigIssue[] {
  if (!c.images.requireDigests) return [];
  const issues: ConfigIssue[] = [];
  const why = "images.requireDigests is true: pin it by digest, <repository>[:tag]@sha256:<64 hex>";
  const check = (path: KeyPath, image: string | undefined) => {
    if (image !== undefined && !PINNED.test(image))
      issues.push({ path, value: image, message: `is mutable; ${why}` });
  };
  if (c.queue.mode === "in-cluster") check(["queue", "image"], c.queue.image);
  check(["mesh", "istio", "canary", "image"], c.mesh.istio.canary?.image);
  if (c.images.source === "prebuilt") {
    const digests: Partial<Record<string, string>> = c.images.digests;
    const missing = [...enabled, "router"].filter((name) => digests[name] === undefined);
    if (missing.length > 0) {
      issues.push({
        path: ["images", "digests"],
        message: `has no digest for ${missing.join(", ")}; ${why} (the digests of the build to promote)`,
      });
    }
  }
  return issues;
}

/** Validates one stack's config and merges the catalog in. Throws StackConfigError with every issue. */
export function resolveStackConfig(raw: RawStackConfig): FleetConfig {
  const sections: Record<string, unknown> = {};
  const others: string[] = [];
  for (const [key, value] of Object.entries(raw.values)) {
    if (SECTION_KEYS.includes(key)) sections[key] = value;
    else others.push(key);
  }

  const parsed = stackConfigSchema.safeParse(sections);
  const issues: ConfigIssue[] = parsed.success ? [] : zodIssues(parsed.error, raw.values);
  if (!parsed.success) {
    // Keys set with --secret are judged once the sections parse (they may be referenced there).
    for (const key of others.filter((k) => !raw.secretKeys.has(k))) {
      issues.push({
        path: [key],
        message: `unknown key; allowed keys: ${SECTION_KEYS.join(", ")} and the secret keys the config refers to`,
      });
    }
    throw new StackConfigError(raw.file, issues);
  }

  const c = parsed.data;
  const agents = Object.fromEntries(AGENT_TYPES.map((a) => [a, mergeAgent(a, c)])) as Record<
    AgentType,
    ResolvedAgent
  >;
  issues.push(...crossFieldRules(c, agents));

  const refs = referencedSecretKeys(c);
  const secretValues: Record<string, string> = {};
  for (const key of others) {
    if (!refs.has(key)) {
      issues.push({
        path: [key],
        message: `unknown key; allowed keys: ${SECTION_KEYS.join(", ")}${refs.size ? `, ${[...refs.keys()].join(", ")}` : ""}`,
      });
    }
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

  if (issues.length > 0) throw new StackConfigError(raw.file, issues);
  const { agents: _overrides, agentDefaults: _shared, ...rest } = c;
  return {
    ...rest,
    agents,
    enabledAgents: AGENT_TYPES.filter((a) => agents[a].enabled).map((a) => agents[a]),
    secretValues,
  };
}
