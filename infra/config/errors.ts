/** Config errors that name the stack file, the key path as `pulumi config set --path` writes it, the value and what is allowed. */

export const CONFIG_NAMESPACE = "agent-fleet";

export type KeyPath = readonly (string | number)[];

export interface ConfigIssue {
  /** The key path inside the `agent-fleet` namespace. */
  path: KeyPath;
  message: string;
  /** Shown instead of `path` for what lies outside the namespace: another namespace's key, `config`. */
  key?: string;
  /** Where in the file, for errors the YAML parser reports. */
  position?: { line: number; col: number };
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
  const where = issue.position ? `${file}:${issue.position.line}:${issue.position.col}` : file;
  const key = issue.key ?? (issue.path.length > 0 ? formatKeyPath(issue.path) : undefined);
  return key === undefined ? `${where}: ${issue.message}` : `${where}: ${key}${shown}: ${issue.message}`;
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The candidate closest to `word` (a typo's likely meaning), when one is close enough to suggest. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
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
