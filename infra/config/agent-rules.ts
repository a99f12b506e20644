/**
 * The cross-field rules about agents: replica bounds, limits against requests, node pools and
 * models, judged on each agent merged over the catalog. A conflict is reported at the key the file
 * really holds: at the agent's own override, or, when the agent inherits it from `agentDefaults`
 * (or the catalog's default), once there, naming every agent it breaks.
 */
import { AGENT_TYPES, type AgentSettings, type AgentType } from "../catalog";
import { parseQuantity } from "../lib/quantity";
import { formatKeyPath, type ConfigIssue, type KeyPath } from "./errors";
import type { ParsedStackConfig } from "./schema";

type Sections = Pick<ParsedStackConfig, "agents" | "agentDefaults" | "autoscaling"> &
  Partial<Pick<ParsedStackConfig, "cluster" | "runtime" | "models" | "secrets">>;

/**
 * Issues of a key many agents inherit (agentDefaults, the catalog's defaults): one per key,
 * listing the agents it breaks.
 */
class SharedIssues {
  private readonly byKey = new Map<string, { issue: ConfigIssue; notes: string[] }>();

  add(issue: ConfigIssue, note: string): void {
    const id = formatKeyPath(issue.path);
    const entry = this.byKey.get(id) ?? { issue, notes: [] };
    entry.notes.push(note);
    this.byKey.set(id, entry);
  }

  issues(): ConfigIssue[] {
    return [...this.byKey.values()].map(({ issue, notes }) => ({
      ...issue,
      message: `${issue.message}: ${notes.join(", ")}`,
    }));
  }
}

/** Two merged values in conflict, each as [the agent's own override, agentDefaults'] (undefined = not set). */
type Sources = [own: unknown, shared: unknown];

/**
 * Which of two conflicting keys to report, and where: the most specific one the file sets (the
 * agent's own override before agentDefaults), `first` before `second` at the same level.
 * Undefined when neither is set (the catalog's own values, which never conflict).
 */
function blame(
  first: Sources,
  second: Sources,
): { key: "first" | "second"; at: "own" | "shared" } | undefined {
  if (first[0] !== undefined) return { key: "first", at: "own" };
  if (second[0] !== undefined) return { key: "second", at: "own" };
  if (first[1] !== undefined) return { key: "first", at: "shared" };
  if (second[1] !== undefined) return { key: "second", at: "shared" };
  return undefined;
}

export function agentRules(
  c: Sections,
  agents: Record<AgentType, AgentSettings>,
  unjudged: ReadonlySet<string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const shared = new SharedIssues();
  const defaults = c.agentDefaults;
  const hpa = c.autoscaling.mode === "hpa";
  const enabled = AGENT_TYPES.filter((a) => agents[a].enabled);
  if (enabled.length === 0 && unjudged.size === 0) {
    issues.push({ path: ["agents"], message: "every agent is disabled; enable at least one" });
  }
  if (hpa && defaults.replicas !== undefined) {
    issues.push({
      path: ["agentDefaults", "replicas"],
      value: defaults.replicas,
      message: "is only used with autoscaling.mode fixed; under hpa set minReplicas and maxReplicas",
    });
  }
  const pools =
    c.cluster && c.cluster.provider !== "existing" ? new Set(Object.keys(c.cluster.nodePools)) : undefined;
  const llm = c.runtime?.executor === "llm";

  for (const name of enabled.filter((a) => !unjudged.has(a))) {
    const a = agents[name];
    const own = c.agents[name] ?? {};
    /**
     * Reports a conflict with `other` (the value it conflicts with) at the agent's own key, or
     * once at agentDefaults' for every agent inheriting it.
     */
    const report = (at: "own" | "shared", key: KeyPath, value: unknown, message: string, other: unknown) => {
      if (at === "own") {
        issues.push({ path: ["agents", name, ...key], value, message: `${message} (${String(other)})` });
      } else {
        const issue = {
          path: ["agentDefaults", ...key],
          value,
          message: `${message} of every agent it applies to`,
        };
        shared.add(issue, `${name} (${String(other)})`);
      }
    };

    if (a.minReplicas > a.maxReplicas) {
      const b = blame([own.maxReplicas, defaults.maxReplicas], [own.minReplicas, defaults.minReplicas]);
      if (b?.key === "first") {
        report(b.at, ["maxReplicas"], a.maxReplicas, "must be >= minReplicas", a.minReplicas);
      } else if (b) {
        report(b.at, ["minReplicas"], a.minReplicas, "must be <= maxReplicas", a.maxReplicas);
      }
    }
    if (hpa && a.minReplicas < 1) {
      const b = blame([own.minReplicas, defaults.minReplicas], [undefined, undefined]);
      if (b) {
        const why =
          "must be >= 1 under autoscaling.mode hpa (scale to zero needs the HPAScaleToZero feature gate)";
        if (b.at === "own")
          issues.push({ path: ["agents", name, "minReplicas"], value: a.minReplicas, message: why });
        else
          shared.add(
            {
              path: ["agentDefaults", "minReplicas"],
              value: a.minReplicas,
              message: `${why}; it applies to`,
            },
            name,
          );
      }
    }
    if (hpa && own.replicas !== undefined) {
      issues.push({
        path: ["agents", name, "replicas"],
        value: own.replicas,
        message: "is only used with autoscaling.mode fixed; under hpa set minReplicas and maxReplicas",
      });
    }
    for (const resource of ["cpu", "memory"] as const) {
      const limit = a.limits[resource];
      const request = a.requests[resource];
      if (parseQuantity(limit) >= parseQuantity(request)) continue;
      const b = blame(
        [own.resources?.limits?.[resource], defaults.resources?.limits?.[resource]],
        [own.resources?.requests?.[resource], defaults.resources?.requests?.[resource]],
      );
      if (b?.key === "first") {
        report(b.at, ["resources", "limits", resource], limit, `must be >= requests.${resource}`, request);
      } else if (b) {
        report(b.at, ["resources", "requests", resource], request, `must be <= limits.${resource}`, limit);
      }
    }
    if (pools && !pools.has(a.nodePool)) {
      const defined = `defined: ${[...pools].join(", ")}`;
      if (own.nodePool !== undefined) {
        issues.push({
          path: ["agents", name, "nodePool"],
          value: a.nodePool,
          message: `no node pool "${a.nodePool}" in cluster.nodePools (${defined})`,
        });
      } else {
        shared.add(
          {
            path: ["cluster", "nodePools"],
            message: `has no pool "${a.nodePool}" (${defined}); add it, or set agents.<name>.nodePool for the agents that use it by default`,
          },
          name,
        );
      }
    }
    if (!llm || !c.models || !c.secrets) continue;
    if (a.model.kind === "local") {
      const file = a.model.file;
      if (!c.models.files.some((f) => f.name === file)) {
        const fix = `add { name, url, sha256 } to models.files`;
        if (own.model !== undefined) {
          issues.push({
            path: ["agents", name, "model", "file"],
            value: a.model.file,
            message: `no entry in models.files is named "${a.model.file}"; ${fix}`,
          });
        } else {
          shared.add(
            {
              path: ["models", "files"],
              message: `has no entry named "${a.model.file}" (${fix}, or set agents.<name>.model); agents that serve it`,
            },
            name,
          );
        }
      }
    } else if (!a.model.baseUrl && !c.secrets.apiKeys.includes(a.model.provider)) {
      const provider = a.model.provider;
      const fix =
        `add "${provider}" to secrets.apiKeys` +
        (c.secrets.backend === "pulumi"
          ? ` and run pulumi config set --secret agent-fleet:${provider}ApiKey <key>`
          : "");
      if (own.model !== undefined) {
        issues.push({
          path: ["agents", name, "model", "provider"],
          value: provider,
          message: `needs an API key: ${fix}`,
        });
      } else {
        shared.add(
          {
            path: ["secrets", "apiKeys"],
            message: `lacks "${provider}": ${fix}; agents whose default model needs it`,
          },
          name,
        );
      }
    }
  }
  return [...issues, ...shared.issues()];
}
