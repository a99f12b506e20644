/** The `--stack <name> [--dir <project dir>]` handling shared by the offline commands (render, cost). */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

export type StackCommand =
  | { stack: string; stackFile: string; projectDir: string; values: Record<string, unknown> }
  | { exit: number };

/**
 * Parses `argv` with the command's own options plus --stack, --dir and --help; resolves the stack
 * file. Returns the exit code instead when there is nothing to run (help, usage, a bad option or a
 * missing file: 2).
 */
export function parseStackCommand(command: string, usage: string, options: Options): StackCommand {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      options: {
        ...options,
        stack: { type: "string", short: "s" },
        dir: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    // An unknown option, a missing option value or a stray argument: what was wrong, then usage.
    console.error(`${command}: ${err instanceof Error ? err.message : String(err)}\n${usage}`);
    return { exit: 2 };
  }
  if (values.help) {
    console.log(usage);
    return { exit: 0 };
  }
  const stack = values.stack;
  if (typeof stack !== "string" || stack === "") {
    console.error(`${command}: --stack is required\n${usage}`);
    return { exit: 2 };
  }
  const dir = typeof values.dir === "string" ? values.dir : process.cwd();
  const projectDir = resolve(dir);
  const stackFile = join(projectDir, `Pulumi.${stack}.yaml`);
  if (!existsSync(stackFile)) {
    console.error(
      `${command}: ${stackFile} does not exist (stacks are Pulumi.<name>.yaml files in ${projectDir})`,
    );
    return { exit: 2 };
  }
  return { stack, stackFile, projectDir, values };
}
