/**
 * `npm run render -- --stack <name> [--out <dir>]`: writes every Kubernetes object the stack would
 * create as YAML and prints a per-agent summary. Invalid config: the errors, exit 1, nothing written.
 */
import { join, resolve } from "node:path";
import { StackConfigError } from "../config/errors";
import { CapacityError } from "../cost/capacity";
import { renderStack, writeRender } from "./render";
import { parseStackCommand } from "./stack-cli";
import { agentSummary } from "./summary";

const USAGE = "usage: npm run render -- --stack <dev|staging|prod|...> [--out <dir>] [--dir <project dir>]";

async function main(): Promise<number> {
  const cmd = parseStackCommand("render", USAGE, { out: { type: "string", short: "o" } });
  if ("exit" in cmd) return cmd.exit;
  const { stack, stackFile, projectDir, values } = cmd;
  const outDir = resolve(typeof values.out === "string" ? values.out : join(projectDir, ".render", stack));
  const started = Date.now();
  console.log(`render: evaluating ${stackFile} under Pulumi mocks (no CLI, no cloud)...`);
  const result = await renderStack(stackFile);
  const files = writeRender(result, outDir);
  console.log(agentSummary(result.config));
  const kinds = new Map<string, number>();
  for (const o of result.objects) kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1);
  console.log(
    `\n${result.objects.length} Kubernetes objects (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")})` +
      `${result.others.length ? ` and ${result.others.length} other resources` : ""}`,
  );
  console.log(`wrote ${files.length} files to ${outDir} in ${Date.now() - started} ms`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof StackConfigError || err instanceof CapacityError) {
      console.error(err.message);
      process.exit(1);
    }
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
