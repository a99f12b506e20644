/**
 * Environment parsing shared by the runtime's processes: empty strings count as unset (Kubernetes
 * renders unset values so), values are trimmed, and a failure lists every bad variable as
 * `NAME="value": what is allowed` (secrets shown as "(hidden)").
 */
import type { z } from "zod";

export class EnvError extends Error {
  override readonly name = "EnvError";
  constructor(
    message: string,
    /** The offending variable names. */
    readonly variables: string[],
  ) {
    super(message);
  }
}

export interface ParseEnvOptions {
  /** Names the environment in the error ("worker", "router"). */
  what: string;
  /** Variables whose values must never be printed. */
  secrets?: readonly string[];
}

export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv,
  options: ParseEnvOptions,
): z.output<S> {
  const cleaned = Object.fromEntries(
    Object.keys(schema.shape).flatMap((key) => {
      const value = env[key];
      return value === undefined || value.trim() === "" ? [] : [[key, value.trim()]];
    }),
  );
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const secrets = new Set(options.secrets ?? []);
  const variables: string[] = [];
  const lines = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? "?");
    variables.push(key);
    const value = cleaned[key];
    const shown = value === undefined ? "(unset)" : secrets.has(key) ? "(hidden)" : JSON.stringify(value);
    return `  ${key}=${shown}: ${issue.message}`;
  });
  return failEnv(`invalid ${options.what} environment:\n${lines.join("\n")}`, variables);
}

function failEnv(message: string, variables: string[]): never {
  throw new EnvError(message, variables);
}
