/**
 * `npm run cost -- --stack <name> [--details] [--dir <project dir>]`: the capacity and cost report of
 * a stack from its config file alone (no Pulumi CLI, no cloud). Exit 1 when the config is invalid or
 * the fleet does not fit its node pools (the same check render and preview run).
 */
import { StackConfigError } from "../config/errors";
import { readStackFile } from "../config/load";
import { resolveStackConfig } from "../config/resolve";
import { capacityPlan } from "./capacity";
import { parseStackCommand } from "../render/stack-cli";
import { formatPlan } from "./report";

const USAGE = "usage: npm run cost -- --stack <dev|staging|prod|...> [--details] [--dir <project dir>]";

function main(): number {
  const cmd = parseStackCommand("cost", USAGE, { details: { type: "boolean", short: "d" } });
  if ("exit" in cmd) return cmd.exit;
  const { stack, stackFile: file, values } = cmd;
  const plan = capacityPlan(resolveStackConfig(readStackFile(file)));
  console.log(formatPlan(stack, plan, values.details === true));
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
