/** Reads raw stack config from a Pulumi.<stack>.yaml file (render, tests) or from the Pulumi engine (pulumi up). */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parse } from "yaml";
import { CONFIG_NAMESPACE } from "./errors";
import type { RawStackConfig } from "./resolve";

/** Stands in for a secret value that cannot be decrypted offline. */
export const SECRET_PLACEHOLDER = "[secret]";

export interface StackFile extends RawStackConfig {
  /** Config of other namespaces (kubernetes:, gcp:, hcloud:), values as written. */
  otherConfig: Record<string, unknown>;
}

function isSecure(value: unknown): boolean {
  return typeof value === "object" && value !== null && "secure" in value;
}

/** Parses a stack file. Secure values become SECRET_PLACEHOLDER and are listed in secretKeys. */
export function readStackFile(path: string): StackFile {
  const file = basename(path);
  const doc: unknown = parse(readFileSync(path, "utf8")) ?? {};
  const config = typeof doc === "object" && doc !== null && "config" in doc ? doc.config : {};
  if (config !== null && (typeof config !== "object" || Array.isArray(config))) {
    throw new Error(`${file}: "config" must be a map of keys to values`);
  }
  const values: Record<string, unknown> = {};
  const otherConfig: Record<string, unknown> = {};
  const secretKeys = new Set<string>();
  for (const [fullKey, value] of Object.entries(config ?? {})) {
    const prefix = `${CONFIG_NAMESPACE}:`;
    if (!fullKey.startsWith(prefix)) {
      otherConfig[fullKey] = value;
      continue;
    }
    const key = fullKey.slice(prefix.length);
    if (isSecure(value)) {
      secretKeys.add(key);
      values[key] = SECRET_PLACEHOLDER;
    } else {
      values[key] = value;
    }
  }
  return { file, values, secretKeys, otherConfig };
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
  for (const [fullKey, text] of Object.entries(all)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    if (isSecret(fullKey)) secret.add(key);
    const trimmed = text.trimStart();
    values[key] = trimmed.startsWith("{") || trimmed.startsWith("[") ? (JSON.parse(text) as unknown) : text;
  }
  return { file: `Pulumi.${stack}.yaml`, values, secretKeys: secret };
}
