/** Reads raw stack config from a Pulumi.<stack>.yaml file (render, tests) or from the Pulumi engine (pulumi up). */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseDocument, type YAMLError } from "yaml";
import { CONFIG_NAMESPACE, StackConfigError, closest, type ConfigIssue } from "./errors";
import type { RawStackConfig } from "./resolve";
import { SECTION_SCHEMAS } from "./schema";

/** Stands in for a secret value that cannot be decrypted offline. */
export const SECRET_PLACEHOLDER = "[secret]";

/**
 * The config namespaces a stack may hold besides `agent-fleet`: Pulumi's own and those of the
 * providers the program uses (package.json's @pulumi/* dependencies; a test keeps them in step).
 * A key in any other namespace is a typo that would otherwise be ignored.
 */
export const PROVIDER_NAMESPACES = [
  "pulumi",
  "kubernetes",
  "gcp",
  "hcloud",
  "aws",
  "docker-build",
  "random",
  "tls",
] as const;

export interface StackFile extends RawStackConfig {
  /** Config of other namespaces (kubernetes:, gcp:, hcloud:), values as written. */
  otherConfig: Record<string, unknown>;
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "nothing";
  return isMap(value) ? "a map" : `the ${typeof value} ${JSON.stringify(value)}`;
}

/** `{ secure: <ciphertext> }`, as `pulumi config set --secret` writes a value. */
function isSecure(value: unknown): value is { secure: unknown } {
  return isMap(value) && "secure" in value;
}

/**
 * The parser reports an unclosed quote where the file ends; the quote that opened it is on the
 * first line holding an odd number of them (escaped ones aside).
 */
function openingQuote(text: string, quote: string): { line: number; col: number } | undefined {
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    const bare = line.replaceAll(`\\${quote}`, "");
    const count = bare.split(quote).length - 1;
    if (count % 2 === 1) return { line: i + 1, col: bare.indexOf(quote) + 1 };
  }
  return undefined;
}

/**
 * The first YAML error, at its line and column. Later ones mostly follow from it (one tab
 * misaligns every key after it), so they are counted, not listed.
 */
function yamlIssue(text: string, errors: readonly YAMLError[]): ConfigIssue {
  const [first] = errors as [YAMLError];
  // The parser's message ends with its own "at line L, column C:" and a code excerpt.
  let message = (first.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
  const quote = /^Missing closing (["'])quote/.exec(message)?.[1];
  const start = (quote && openingQuote(text, quote)) || first.linePos?.[0];
  if (first.code === "DUPLICATE_KEY" && start) {
    const key = /^(.*?):(\s|$)/.exec(text.split("\n")[start.line - 1]?.slice(start.col - 1) ?? "")?.[1];
    if (key) message += `: "${key}" is given twice; keep one`;
  }
  if (errors.length > 1) {
    message += ` (and ${errors.length - 1} more YAML errors that may follow from this one: fix it and run again)`;
  }
  return { path: [], message, ...(start ? { position: { line: start.line, col: start.col } } : {}) };
}

const SECTIONS = Object.keys(SECTION_SCHEMAS);

/** The issue of a config key outside `agent-fleet:` and the known namespaces, with the closest valid key. */
export function namespaceIssue(fullKey: string): ConfigIssue | undefined {
  const colon = fullKey.indexOf(":");
  const namespace = colon === -1 ? "" : fullKey.slice(0, colon);
  const known: readonly string[] = [CONFIG_NAMESPACE, ...PROVIDER_NAMESPACES];
  if (known.includes(namespace)) return undefined;
  const allowed = `allowed namespaces: ${CONFIG_NAMESPACE} (this project), ${PROVIDER_NAMESPACES.join(", ")}`;
  if (colon === -1) {
    const section = SECTIONS.includes(fullKey) ? fullKey : closest(fullKey, SECTIONS);
    return {
      path: [],
      key: fullKey,
      message:
        `has no namespace; config keys are <namespace>:<key>` +
        (section ? ` (did you mean "${CONFIG_NAMESPACE}:${section}"?)` : "") +
        `; ${allowed}`,
    };
  }
  const suggestion = closest(namespace, known);
  return {
    path: [],
    key: fullKey,
    message:
      `unknown config namespace "${namespace}"` +
      (suggestion ? ` (did you mean "${suggestion}${fullKey.slice(colon)}"?)` : "") +
      `; ${allowed}`,
  };
}

/**
 * Parses a stack file. Secure values become SECRET_PLACEHOLDER and are listed in secretKeys.
 * Throws StackConfigError for what makes the file unreadable (YAML syntax, `config` not a map);
 * other problems (unknown namespaces, empty secure values) go to `issues`, reported with the rest.
 */
export function readStackFile(path: string): StackFile {
  return parseStackFile(readFileSync(path, "utf8"), basename(path));
}

/** readStackFile for a stack file's text (`file` names it in messages). */
export function parseStackFile(text: string, file: string): StackFile {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new StackConfigError(file, [yamlIssue(text, doc.errors)]);
  const root: unknown = doc.toJS() ?? {};
  if (!isMap(root)) {
    throw new StackConfigError(file, [
      {
        path: [],
        message: `expected a map with a "config:" key at the top of the file; found ${kindOf(root)}`,
      },
    ]);
  }
  const config = root.config ?? {};
  if (!isMap(config)) {
    throw new StackConfigError(file, [
      {
        path: [],
        key: "config",
        message: `expected a map of <namespace>:<key> entries such as "${CONFIG_NAMESPACE}:cluster:"; found ${kindOf(config)}`,
      },
    ]);
  }
  const values: Record<string, unknown> = {};
  const otherConfig: Record<string, unknown> = {};
  const secretKeys = new Set<string>();
  const issues: ConfigIssue[] = [];
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const [fullKey, value] of Object.entries(config)) {
    const ours = fullKey.startsWith(prefix);
    const key = fullKey.slice(prefix.length);
    if (isSecure(value) && (typeof value.secure !== "string" || value.secure.trim() === "")) {
      issues.push({
        ...(ours ? { path: [key] } : { path: [], key: fullKey }),
        message: `the secure: value is empty; set it with pulumi config set --secret ${fullKey} <value>`,
      });
    }
    if (!ours) {
      const issue = namespaceIssue(fullKey);
      if (issue) issues.push(issue);
      else otherConfig[fullKey] = value;
    } else if (isSecure(value)) {
      secretKeys.add(key);
      values[key] = SECRET_PLACEHOLDER;
    } else {
      values[key] = value;
    }
  }
  return { file, values, secretKeys, otherConfig, issues };
}

/**
 * Raw config as the Pulumi engine hands it to the program: objects arrive as JSON strings, and
 * `isSecret(fullKey)` says which keys the stack stores as secrets (`pulumi.runtime.isConfigSecret`
 * in a program: the SDK learns it from the language host or, under the Automation API, from the
 * inline program's run request, so no environment variable is involved).
 */
export function fromEngineConfig(
  stack: string,
  all: Readonly<Record<string, string>>,
  isSecret: (fullKey: string) => boolean,
): RawStackConfig {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const secret = new Set<string>();
  const values: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const [fullKey, text] of Object.entries(all)) {
    if (!fullKey.startsWith(prefix)) {
      const issue = namespaceIssue(fullKey);
      if (issue) issues.push(issue);
      continue;
    }
    const key = fullKey.slice(prefix.length);
    if (isSecret(fullKey)) secret.add(key);
    const trimmed = text.trimStart();
    values[key] = trimmed.startsWith("{") || trimmed.startsWith("[") ? (JSON.parse(text) as unknown) : text;
  }
  return { file: `Pulumi.${stack}.yaml`, values, secretKeys: secret, issues };
}
