/**
 * `npm run render -- --stack <name> [--out <dir>]`: writes every Kubernetes object the stack would
 * create as YAML and prints a per-agent summary. Invalid config or an --out folder render may not
 * replace: every error at once, exit 1, nothing written.
 */
import { join, resolve } from "node:path";
import { StackConfigError } from "../config/errors";
import { CapacityError } from "../cost/capacity";
import { previousRender, RenderOutError } from "./out-dir";
import { renderStack, writeRender, type RenderResult } from "./render";
import { parseStackCommand } from "./stack-cli";
import { agentSummary } from "./summary";

const USAGE =
  "usage: npm run render -- --stack <dev|staging|prod|...> [--out <dir>] [--dir <project dir>]\n" +
  "  --out: a new or empty folder, or an earlier render (default .render/<stack>); render replaces only what it wrote";

/** The message of an error the user can fix (printed without a stack trace), else undefined. */
function userError(err: unknown): string | undefined {
  const known =
    err instanceof StackConfigError || err instanceof CapacityError || err instanceof RenderOutError;
  return known ? err.message : undefined;
}

async function main(): Promise<number> {
  const cmd = parseStackCommand("render", USAGE, { out: { type: "string", short: "o" } });
  if ("exit" in cmd) return cmd.exit;
  const { stack, stackFile, projectDir, values } = cmd;
  const outDir = resolve(typeof values.out === "string" ? values.out : join(projectDir, ".render", stack));
  const started = Date.now();
  // Both the folder and the config are judged before anything is written, and reported together.
  const errors: string[] = [];
  try {
    previousRender(outDir);
  } catch (err) {
    errors.push(userError(err) ?? String(err));
  }
  console.log(`render: evaluating ${stackFile} under Pulumi mocks (no CLI, no cloud)...`);
  let result: RenderResult | undefined;
  try {
    result = await renderStack(stackFile);
  } catch (err) {
    const message = userError(err);
    if (message === undefined) throw err;
    errors.push(message);
  }
  if (!result || errors.length > 0) {
    console.error(errors.join("\n"));
    return 1;
  }
  const written = writeRender(result, outDir);
  console.log(agentSummary(result.config));
  const kinds = new Map<string, number>();
  for (const o of result.objects) kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1);
  console.log(
    `\n${result.objects.length} Kubernetes objects (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")})` +
      `${result.others.length ? ` and ${result.others.length} other resources` : ""}`,
  );
  console.log(`wrote ${written.files.length} files to ${outDir} in ${Date.now() - started} ms`);
  if (written.leftOver) {
    console.log(`render: files that appeared in ${outDir} while rendering were kept in ${written.leftOver}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = userError(err);
    // Anything else is a bug in render itself: its stack trace is what a report needs.
    console.error(message ?? (err instanceof Error ? (err.stack ?? err.message) : String(err)));
    process.exit(1);
  },
);
