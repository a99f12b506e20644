/** Config errors that name the stack file, the key path as `pulumi config set --path` writes it, the value and what is allowed. */

export const CONFIG_NAMESPACE = "agent-fleet";

export type KeyPath = readonly (string | number)[];

export interface ConfigIssue {
  path: KeyPath;
  message: string;
  /** The offending value; omitted for missing keys, hidden for secrets. */
  value?: unknown;
  hideValue?: boolean;
}

const PLAIN_SEGMENT = /^[A-Za-z_][\w-]*$/;

/** `["agents","python","maxReplicas"]` → `agent-fleet:agents.python.maxReplicas`; arrays as `[0]`. */
export function formatKeyPath(path: KeyPath): string {
  let out = CONFIG_NAMESPACE + ":";
  path.forEach((segment, i) => {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_SEGMENT.test(segment)) out += i === 0 ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  });
  return out;
}

function formatValue(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function formatIssue(file: string, issue: ConfigIssue): string {
  const shown = issue.hideValue
    ? " = [secret]"
    : issue.value === undefined
      ? ""
      : ` = ${formatValue(issue.value)}`;
  return `${file}: ${formatKeyPath(issue.path)}${shown}: ${issue.message}`;
}

/** All the errors of one stack file, reported together. */
export class StackConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(
      `${file} has ${issues.length} config error${issues.length === 1 ? "" : "s"}:\n` +
        issues.map((i) => `  - ${formatIssue(file, i)}`).join("\n"),
    );
    this.name = "StackConfigError";
  }

  /** One line per issue, as printed. */
  get lines(): string[] {
    return this.issues.map((i) => formatIssue(this.file, i));
  }
}

/** Reads the raw value at `path` (for showing what was written). */
export function valueAt(root: unknown, path: KeyPath): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}
