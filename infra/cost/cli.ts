/**
 * `npm run cost -- --stack <name> [--details] [--dir <project dir>]`: the capacity and cost report of
 * a stack from its config file alone (no Pulumi CLI, no cloud). Exit 1 when the config is invalid or
 * the fleet does not fit its node pools (the same check render and preview run).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readStackFile, resolveStackConfig, StackConfigError } from "../config";
import { capacityPlan } from "./capacity";
import { formatPlan } from "./report";

const USAGE = "usage: npm run cost -- --stack <dev|staging|prod|...> [--details] [--dir <project dir>]";

function main(): number {
  const { values } = parseArgs({
    options: {
      stack: { type: "string", short: "s" },
      details: { type: "boolean", short: "d" },
      dir: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.stack) {
    console.error(`cost: --stack is required\n${USAGE}`);
    return 2;
  }
  const projectDir = resolve(values.dir ?? process.cwd());
  const file = join(projectDir, `Pulumi.${values.stack}.yaml`);
  if (!existsSync(file)) {
    console.error(`cost: ${file} does not exist (stacks are Pulumi.<name>.yaml files in ${projectDir})`);
    return 2;
  }
  const plan = capacityPlan(resolveStackConfig(readStackFile(file)));
  console.log(formatPlan(values.stack, plan, values.details ?? false));
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
