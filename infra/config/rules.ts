/**
 * The cross-field rules of stack config: what no single key's schema can judge. They run on the
 * parts of the config that parsed (a section with schema errors is left out, and so is an agent
 * whose own overrides have them), so one round reports every error. Each issue is reported at a
 * key the file really holds: a value an agent inherits from `agentDefaults` is reported once there,
 * naming the agents it breaks, not once per agent under keys the file does not have.
 */
import { AGENT_TYPES, type AgentSettings, type AgentType } from "../catalog";
import { GCP, HETZNER } from "../prices";
import { parseQuantity } from "../lib/quantity";
import { NODE_LOCAL_STORAGE_CLASSES } from "../lib/storage";
import { agentRules } from "./agent-rules";
import type { ConfigIssue, KeyPath } from "./errors";
import type { ParsedStackConfig } from "./schema";

export type PartialConfig = Partial<ParsedStackConfig>;

export interface RuleInput {
  /** The sections that parsed. */
  config: PartialConfig;
  /** Every agent merged over the catalog, when agents, agentDefaults and autoscaling parsed. */
  agents?: Record<AgentType, AgentSettings>;
  /** Agents whose own overrides did not parse: the rules do not judge them. */
  unjudged: ReadonlySet<string>;
}

type Resources = { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };

/** limits >= requests, per resource, reported at the limit's key (sections whose resources are whole). */
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

/** Agents that use a local model (needing the model volume, loader and sidecar). */
function localModelAgents(input: RuleInput): AgentType[] {
  const { agents, config } = input;
  if (!agents || config.runtime?.executor !== "llm") return [];
  return AGENT_TYPES.filter(
    (a) => agents[a].enabled && !input.unjudged.has(a) && agents[a].model.kind === "local",
  );
}

function modelRules(models: ParsedStackConfig["models"], input: RuleInput): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  models.files.forEach((f, i) => {
    if (seen.has(f.name))
      issues.push({ path: ["models", "files", i, "name"], value: f.name, message: "is listed twice" });
    seen.add(f.name);
  });
  const local = localModelAgents(input);
  if (local.length > 0) {
    const why = `required because agent ${local.join(", ")} uses a local model`;
    checkResources(models.sidecar.resources, ["models", "sidecar", "resources"], issues);
    if (!models.backend) issues.push({ path: ["models", "backend"], message: why });
    if (!models.sidecar.image) issues.push({ path: ["models", "sidecar", "image"], message: why });
    if (!models.loaderImage) issues.push({ path: ["models", "loaderImage"], message: why });
  }
  const backend = models.backend;
  const cluster = input.config.cluster;
  if (backend && cluster) {
    const needs: Record<string, string | undefined> = {
      filestore: "gke",
      "hyperdisk-ml": "gke",
      "gcs-fuse": "gke",
      "hcloud-nfs": "hetzner-k3s",
    };
    const provider = needs[backend.kind];
    if (provider && provider !== cluster.provider) {
      issues.push({
        path: ["models", "backend", "kind"],
        value: backend.kind,
        message: `needs cluster.provider "${provider}" (this stack uses "${cluster.provider}")`,
      });
    }
  }
  if (backend?.kind === "storage-class" && NODE_LOCAL_STORAGE_CLASSES.has(backend.storageClass)) {
    issues.push({
      path: ["models", "backend", "storageClass"],
      value: backend.storageClass,
      message:
        `provisions ReadWriteOnce volumes that cannot be shared across nodes; ` +
        `use a class that supports ${backend.accessMode} (NFS, CephFS, Filestore, Longhorn RWX)`,
    });
  }
  models.files.forEach((file, i) => {
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
  return issues;
}

const RESERVED_DOMAIN = /(^|\.)(example\.(com|net|org)|invalid|test|localhost)$/;

function meshRules(istio: ParsedStackConfig["mesh"]["istio"], input: RuleInput): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const canary = istio.canary;
  if (canary) {
    if (input.agents && !input.unjudged.has(canary.agent) && !input.agents[canary.agent].enabled) {
      issues.push({
        path: ["mesh", "istio", "canary", "agent"],
        value: canary.agent,
        message: `agent "${canary.agent}" is disabled (agents.${canary.agent}.enabled = false); a canary needs an enabled agent`,
      });
    }
    if (!istio.enabled) {
      issues.push({
        path: ["mesh", "istio", "enabled"],
        value: false,
        message: "must be true when mesh.istio.canary is set",
      });
    }
    if (canary.image === undefined && input.config.images?.source === "prebuilt") {
      issues.push({
        path: ["mesh", "istio", "canary", "image"],
        message:
          "required with images.source: prebuilt (give the canary's image by digest; with images.source: build it is built with the others)",
      });
    }
  }
  if (istio.ingress && RESERVED_DOMAIN.test(istio.ingress.host)) {
    issues.push({
      path: ["mesh", "istio", "ingress", "host"],
      value: istio.ingress.host,
      message:
        "is a reserved example domain (RFC 2606), not a host clients can reach: set the router's real public host name (its DNS record points at the ingress gateway's load balancer)",
    });
  }
  return issues;
}

const PINNED = /@sha256:[a-f0-9]{64}$/;

/** With images.requireDigests, every image the stack runs must be pinned by digest. */
function digestRules(images: ParsedStackConfig["images"], input: RuleInput): ConfigIssue[] {
  if (!images.requireDigests) return [];
  const { config, agents } = input;
  const issues: ConfigIssue[] = [];
  const why = "images.requireDigests is true: pin it by digest, <repository>[:tag]@sha256:<64 hex>";
  const check = (path: KeyPath, image: string | undefined) => {
    if (image !== undefined && !PINNED.test(image))
      issues.push({ path, value: image, message: `is mutable; ${why}` });
  };
  if (config.queue?.mode === "in-cluster") check(["queue", "image"], config.queue.image);
  check(["mesh", "istio", "canary", "image"], config.mesh?.istio.canary?.image);
  if (images.source === "prebuilt" && agents) {
    const digests: Partial<Record<string, string>> = images.digests;
    const enabled = AGENT_TYPES.filter((a) => agents[a].enabled);
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

function clusterRules(cluster: ParsedStackConfig["cluster"]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cluster.provider === "existing") return issues;
  const nodePools: Record<string, { minNodes: number; maxNodes: number }> = cluster.nodePools;
  for (const [pool, p] of Object.entries(nodePools)) {
    if (p.minNodes > p.maxNodes) {
      issues.push({
        path: ["cluster", "nodePools", pool, "minNodes"],
        value: p.minNodes,
        message: `must be <= maxNodes (${p.maxNodes})`,
      });
    }
  }
  if (cluster.provider === "gke") {
    // The schema knows every zone of the price table; here, that each lies in the cluster's region.
    const zones = GCP.regions[cluster.region]?.zones ?? [];
    const inRegion = `must be a zone of region ${cluster.region}; allowed: ${zones.join(", ")} (from infra/prices.ts)`;
    if (cluster.zone !== undefined && !zones.includes(cluster.zone)) {
      issues.push({ path: ["cluster", "zone"], value: cluster.zone, message: inRegion });
    }
    cluster.nodeLocations?.forEach((zone, i) => {
      if (!zones.includes(zone))
        issues.push({ path: ["cluster", "nodeLocations", i], value: zone, message: inRegion });
    });
  } else {
    const zone = HETZNER.locations[cluster.location];
    if (zone !== cluster.networkZone) {
      issues.push({
        path: ["cluster", "networkZone"],
        value: cluster.networkZone,
        message: `must be ${zone} for location ${cluster.location} (from infra/prices.ts)`,
      });
    }
  }
  return issues;
}

/** Every cross-field issue of the parts that parsed. */
function observabilityRules(o: ParsedStackConfig["observability"]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const t = o.tracing;
  if (t.enabled && t.endpoint === undefined && !t.collector.install) {
    issues.push({
      path: ["observability", "tracing", "endpoint"],
      message:
        "required when tracing is enabled and collector.install is false (your collector's OTLP/HTTP address)",
    });
  }
  if (!t.collector.install && t.collector.exportTo !== undefined) {
    issues.push({
      path: ["observability", "tracing", "collector", "exportTo"],
      value: t.collector.exportTo,
      message: "is only used with collector.install: true",
    });
  }
  const p = o.prometheus;
  if (p.operator === true && p.install && p.chart === "prometheus") {
    issues.push({
      path: ["observability", "prometheus", "operator"],
      value: true,
      message:
        'the prometheus chart does not read PrometheusRule or PodMonitor objects: set chart: "kube-prometheus-stack", or operator: false',
    });
  }
  return issues;
}

export function crossFieldRules(input: RuleInput): ConfigIssue[] {
  const { config: c, agents } = input;
  const issues: ConfigIssue[] = [];
  if (agents && c.agents && c.agentDefaults && c.autoscaling) {
    issues.push(
      ...agentRules(
        { ...c, agents: c.agents, agentDefaults: c.agentDefaults, autoscaling: c.autoscaling },
        agents,
        input.unjudged,
      ),
    );
  }
  if (c.router) checkResources(c.router.resources, ["router", "resources"], issues);
  if (c.queue?.mode === "in-cluster") checkResources(c.queue.resources, ["queue", "resources"], issues);
  if (c.models) issues.push(...modelRules(c.models, input));
  if (c.mesh) issues.push(...meshRules(c.mesh.istio, input));
  if (c.images) issues.push(...digestRules(c.images, input));
  if (c.cluster) issues.push(...clusterRules(c.cluster));
  if (c.observability) issues.push(...observabilityRules(c.observability));
  return issues;
}
