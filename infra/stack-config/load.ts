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
 * Raw config as the Pulumi engine hands it to the program: objects arrive as JSON strings and
 * secret keys are listed in PULUMI_CONFIG_SECRET_KEYS (the same variable the SDK reads).
 */
export function fromEngineConfig(
  stack: string,
  all: Readonly<Record<string, string>>,
  secretKeysJson: string | undefined,
): RawStackConfig {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const secret = new Set<string>();
  for (const k of JSON.parse(secretKeysJson ?? "[]") as string[]) {
    if (k.startsWith(prefix)) secret.add(k.slice(prefix.length));
  }
  const values: Record<string, unknown> = {};
  for (const [fullKey, text] of Object.entries(all)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    const trimmed = text.trimStart();
    values[key] = trimmed.startsWith("{") || trimmed.startsWith("[") ? (JSON.parse(text) as unknown) : text;
  }
  return { file: `Pulumi.${stack}.yaml`, values, secretKeys: secret };
}
