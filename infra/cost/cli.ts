/**
 * `npm run cost -- --stack <name> [--details] [--format text|markdown] [--baseline <dir>] [--dir <project dir>]`:
 * the capacity and cost report of a stack from its config file alone (no Pulumi CLI, no cloud).
 * `--format markdown --baseline <checkout of the base branch>` is the PR comment (pr.yml): the
 * totals with their change against the base branch's same stack file. Exit 1 when the config is
 * invalid or the fleet does not fit its node pools (the same check render and preview run).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { StackConfigError } from "../config/errors";
import { readStackFile } from "../config/load";
import { resolveStackConfig } from "../config/resolve";
import { capacityPlan } from "./capacity";
import { parseStackCommand } from "../render/stack-cli";
import { formatPlan, formatPlanMarkdown, type Baseline } from "./report";

const USAGE =
  "usage: npm run cost -- --stack <dev|staging|prod|...> [--details] [--format text|markdown] [--baseline <dir>] [--dir <project dir>]";

/** The same stack in the base branch's checkout, evaluated by this branch's code. */
function baselineOf(dir: string, stack: string): Baseline {
  const file = join(resolve(dir), `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) return { missing: `no Pulumi.${stack}.yaml (a new stack)` };
  try {
    return { plan: capacityPlan(resolveStackConfig(readStackFile(file))) };
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
    return { missing: `its Pulumi.${stack}.yaml does not evaluate with this branch's code (${first})` };
  }
}

function main(): number {
  const cmd = parseStackCommand("cost", USAGE, {
    details: { type: "boolean", short: "d" },
    format: { type: "string" },
    baseline: { type: "string" },
  });
  if ("exit" in cmd) return cmd.exit;
  const { stack, stackFile: file, values } = cmd;
  const format = typeof values.format === "string" ? values.format : "text";
  if (format !== "text" && format !== "markdown") {
    console.error(`cost: --format must be text or markdown (got "${format}")\n${USAGE}`);
    return 2;
  }
  const baselineDir = typeof values.baseline === "string" ? values.baseline : undefined;
  if (baselineDir !== undefined && format !== "markdown") {
    console.error(`cost: --baseline goes with --format markdown (the PR comment)\n${USAGE}`);
    return 2;
  }
  const plan = capacityPlan(resolveStackConfig(readStackFile(file)));
  console.log(
    format === "markdown"
      ? formatPlanMarkdown(
          stack,
          plan,
          baselineDir === undefined ? undefined : baselineOf(baselineDir, stack),
        )
      : formatPlan(stack, plan, values.details === true),
  );
  return plan.problems.length ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (err) {
  console.error(
    err instanceof StackConfigError
      ? err.message
      : err instanceof Error
        ? (err.stack ?? err.message)
        : String(err),
  );
  process.exitCode = 1;
}
