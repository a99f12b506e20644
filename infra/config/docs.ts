/**
 * Generates docs/configuration.md from the zod schema (through zod's JSON Schema export) and the
 * descriptions table. Every key the schema has must have a description and every description a
 * key, so the reference cannot drift from the code: `npm run docs:check` fails when it does.
 */
import { z } from "zod";
import { SECTION_DESCRIPTIONS, KEY_DESCRIPTIONS } from "./descriptions";
import { PROVIDER_NAMESPACES } from "./load";
import { stackConfigSchema } from "./schema";

interface JsonSchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  format?: string;
}

export interface KeyRow {
  /** Generic key path: `agents.<agent>.maxReplicas`, `models.files[].sha256`. */
  path: string;
  /** The discriminated-union variant the key belongs to, e.g. `provider: gke`. */
  variant?: string;
  type: string;
  default?: string;
  required: boolean;
}

function variants(s: JsonSchema): JsonSchema[] | undefined {
  return s.oneOf ?? s.anyOf;
}

function describeType(s: JsonSchema): string {
  const alts = variants(s);
  if (alts) return alts.map(describeType).join(" | ");
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" | ");
  const type = Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? "any");
  if (type === "array") return `list of ${s.items ? describeType(s.items) : "values"}`;
  if (
    type === "object" &&
    s.additionalProperties &&
    typeof s.additionalProperties === "object" &&
    !s.properties
  ) {
    return `map of ${describeType(s.additionalProperties)}`;
  }
  const bounds = [
    s.minimum !== undefined ? `>= ${s.minimum}` : "",
    s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? `<= ${s.maximum}` : "",
  ].filter(Boolean);
  return bounds.length ? `${type} (${bounds.join(", ")})` : type;
}

function discriminator(alts: JsonSchema[]): string | undefined {
  const first = alts[0]?.properties;
  if (!first) return undefined;
  return Object.keys(first).find((k) => alts.every((a) => a.properties?.[k]?.const !== undefined));
}

function recordKeyName(path: string): string {
  if (path === "agents") return "<agent>";
  if (path.endsWith("nodePools")) return "<pool>";
  return "<name>";
}

/** Flattens the schema into one row per key. */
export function keyRows(): KeyRow[] {
  const root = z.toJSONSchema(stackConfigSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const rows: KeyRow[] = [];
  const walk = (s: JsonSchema, path: string, required: boolean, variant?: string) => {
    const alts = variants(s);
    const key = alts ? discriminator(alts) : undefined;
    if (path) {
      rows.push({
        path,
        type: describeType(s),
        required,
        ...(variant ? { variant } : {}),
        ...(s.default !== undefined ? { default: JSON.stringify(s.default) } : {}),
      });
    }
    if (alts && key) {
      for (const alt of alts) {
        const label = `${key}: ${String(alt.properties?.[key]?.const)}`;
        for (const [name, child] of Object.entries(alt.properties ?? {})) {
          if (name === key) {
            if (alt !== alts[0]) continue;
            const values = alts.map((a) => `\`${JSON.stringify(a.properties?.[key]?.const)}\``).join(" | ");
            rows.push({
              path: `${path}.${name}`,
              type: values,
              required: true,
              ...(variant ? { variant } : {}),
            });
            continue;
          }
          walk(child, `${path}.${name}`, alt.required?.includes(name) ?? false, label);
        }
      }
      return;
    }
    if (s.properties) {
      for (const [name, child] of Object.entries(s.properties)) {
        walk(child, path ? `${path}.${name}` : name, s.required?.includes(name) ?? false, variant);
      }
    } else if (s.additionalProperties && typeof s.additionalProperties === "object") {
      const child = s.additionalProperties;
      if (child.properties || variants(child)) walk(child, `${path}.${recordKeyName(path)}`, false, variant);
    } else if (s.items && (s.items.properties || variants(s.items))) {
      for (const [name, child] of Object.entries(s.items.properties ?? {})) {
        walk(child, `${path}[].${name}`, s.items.required?.includes(name) ?? false, variant);
      }
    }
  };
  walk(root, "", true);
  // Rows are unique per (path, variant); a shared discriminator key appears once.
  const seen = new Set<string>();
  return rows.filter((r) => {
    const id = `${r.path}|${r.variant ?? ""}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Paths whose description is missing, and descriptions whose path no longer exists. */
export function descriptionDrift(): { missing: string[]; stale: string[] } {
  const paths = new Set(keyRows().map((r) => r.path));
  const described = new Set(Object.keys(KEY_DESCRIPTIONS));
  return {
    missing: [...paths].filter((p) => !described.has(p)),
    stale: [...described].filter((p) => !paths.has(p)),
  };
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function configurationMarkdown(): string {
  const rows = keyRows();
  const sections = [...new Set(rows.map((r) => r.path.split(/[.[]/)[0] ?? ""))];
  const out: string[] = [
    "# Configuration reference",
    "",
    "<!-- Generated from infra/config/schema.ts and descriptions.ts by `npm run docs:config`; `npm test` fails when it is out of date. -->",
    "",
    "Every key lives in the `agent-fleet` config namespace of a stack file (`Pulumi.<stack>.yaml`).",
    "Set one with `pulumi config set --path 'agent-fleet:agents.python.maxReplicas' 12`, or edit the",
    "file. A stack file holds only what differs from the defaults: the agent catalog (DESIGN.md's",
    "capacity plan) fills in every agent value it does not set. `npm run render -- --stack <name>`",
    "validates a stack file offline and reports every error at once, each naming the file, the key",
    "path, the value and what is allowed.",
    "",
    "Every `config:` key of a stack file is `<namespace>:<key>`. Besides `agent-fleet`, the namespaces",
    "allowed are Pulumi's and those of the providers the program uses",
    `(${PROVIDER_NAMESPACES.map((n) => `\`${n}\``).join(", ")}); a key in any other namespace is an`,
    "error that names the closest valid key (a typo such as `agent-flet:router` would otherwise be",
    "ignored and its section fall back to defaults). A `secure:` value must not be empty.",
    "",
    "GKE regions, zones and machine types, and Hetzner locations and server types, must be ones the",
    "price table `infra/prices.ts` lists: render's capacity check and `npm run cost` need each",
    "node's size and price. To use another, add it to the table with its prices.",
    "",
    "`npm run render -- --stack <name> --out <dir>` writes into a new or empty folder, or over an",
    "earlier render: it leaves a `.agent-fleet-render` marker listing its files, replaces only those",
    "next time, and refuses (deleting nothing) a folder that holds anything else.",
    "",
    "`<agent>` is one of the 12 agents (python, frontend, backend, devops, tester, researcher,",
    "coordinator, reviewer, security, data, ml, integration); `<pool>` is a node-pool name; a key",
    "marked with a variant (for example *provider: gke*) only exists in that variant.",
    "",
  ];
  for (const section of sections) {
    out.push(`## \`${section}\``, "", SECTION_DESCRIPTIONS[section] ?? "", "");
    out.push("| key | type | default | description |", "|---|---|---|---|");
    for (const r of rows.filter(
      (row) =>
        row.path === section || row.path.startsWith(`${section}.`) || row.path.startsWith(`${section}[`),
    )) {
      const name = `\`${r.path}\`${r.required ? " (required)" : ""}${r.variant ? ` *${r.variant}*` : ""}`;
      out.push(
        `| ${cell(name)} | ${cell(r.type)} | ${r.default !== undefined ? cell(`\`${r.default}\``) : ""} | ${cell(KEY_DESCRIPTIONS[r.path] ?? "")} |`,
      );
    }
    out.push("");
  }
  out.push(
    "## Secret keys",
    "",
    "Values such as API keys and passwords are not sections: they are top-level keys that a section",
    "refers to by name, and they must be set with `--secret` (a plain-text value is an error):",
    "",
    "| key | referred to by |",
    "|---|---|",
    "| `openaiApiKey`, `anthropicApiKey` | `secrets.apiKeys` (backend `pulumi`) |",
    "| `redisPassword` (or `queue.passwordKey`) | `queue` (mode `managed`) |",
    "| `registryPassword` (or `images.registry.passwordKey`) | `images.registry` (kind `external`) |",
    "| `router.tokensKey` | `router` (when set; otherwise a token is generated) |",
    "",
  );
  return out.join("\n");
}
