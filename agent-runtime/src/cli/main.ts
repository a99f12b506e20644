/**
 * `agent-fleet`: the runtime's one command line (bin/agent-fleet.js loads this).
 *
 *   agent-fleet dev                          the local fleet (Redis, router, 12 workers)
 *   agent-fleet worker [--agent <type>]      an agent process (the agent image's command)
 *   agent-fleet router                       the task router (the router image's command)
 *   agent-fleet submit --type <t> (--prompt <text> | --input <json object>) [--priority] [--id] [--wait]
 *   agent-fleet status <id>                  a task's status and result
 *   agent-fleet queues                       ready/in-flight/delayed/dead per agent
 *   agent-fleet dlq list|retry|purge --agent <type> [--redis-url <url>]
 *
 * Client commands reach the router at --router-url / ROUTER_URL, else the running `agent-fleet
 * dev`'s, else http://127.0.0.1:8080, with ROUTER_TOKEN; dlq reaches Redis at --redis-url /
 * REDIS_URL, else the running dev's (dev-state.ts). Exit codes: 0 ok, 1 failure (or a task that
 * failed), 2 usage or configuration error.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Argument, Command, CommanderError, Option } from "commander";
import { z } from "zod";
import { runAgent } from "../agent/main";
import { AGENT_TYPES } from "../catalog";
import { DEFAULT_PORT } from "../contract";
import { ExecutorConfigError } from "../executors";
import { EnvError } from "../lib/env";
import { RouterConfigError } from "../router/auth";
import { runRouter } from "../router/main";
import { RouterClientError } from "./client";
import {
  dlqCommand,
  queuesCommand,
  statusCommand,
  submitCommand,
  UsageError,
  type ClientOptions,
  type DlqOptions,
  type SubmitOptions,
} from "./commands";
import { devCommand, type DevOptions } from "./dev";
import { readDevState } from "./dev-state";
import { InputError } from "./input";
import { LocalRedisError } from "./local-redis";

interface GlobalOptions {
  routerUrl: string;
  token?: string;
}

const DEFAULT_ROUTER_URL = `http://127.0.0.1:${DEFAULT_PORT}`;

/** The version of the runtime package (agent-runtime/package.json, beside src/ and dist/). */
export function runtimeVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
    return z.object({ version: z.string() }).parse(pkg).version;
  } catch {
    return "unknown";
  }
}

/** --router-url / ROUTER_URL when given, else the running dev fleet's router, else the default. */
function routerUrlOf(value: string, source: string | undefined, env: NodeJS.ProcessEnv): string {
  if (source === "default") return readDevState(env)?.routerUrl ?? value;
  let protocol = "";
  try {
    protocol = new URL(value).protocol;
  } catch {
    // reported below
  }
  if (protocol !== "http:" && protocol !== "https:") {
    const where = source === "env" ? "ROUTER_URL" : "--router-url";
    throw new UsageError(
      `${where} ${JSON.stringify(value)} is not an http:// or https:// URL, e.g. ${DEFAULT_ROUTER_URL}`,
    );
  }
  return value;
}

export function buildProgram(env: NodeJS.ProcessEnv, setExit: (code: number) => void): Command {
  const program = new Command("agent-fleet")
    .description("Run and talk to the agent-fleet runtime: local fleet, workers, router, tasks and queues.")
    .version(runtimeVersion(), "-V, --version", "print the version")
    .addOption(
      new Option("--router-url <url>", "task router to talk to (default: the running agent-fleet dev's)")
        .env("ROUTER_URL")
        .default(DEFAULT_ROUTER_URL),
    )
    .addOption(new Option("--token <token>", "bearer token for the router").env("ROUTER_TOKEN"))
    .showHelpAfterError()
    .exitOverride();
  const client = (): ClientOptions => {
    const g = program.opts<GlobalOptions>();
    return {
      routerUrl: routerUrlOf(g.routerUrl, program.getOptionValueSource("routerUrl"), env),
      token: g.token,
    };
  };

  program
    .command("dev")
    .description(
      "start the local fleet: Redis (REDIS_URL, or a private redis-server), the router, one worker per agent",
    )
    .addOption(
      new Option("--port <n>", "router port (0: a free one)").env("PORT").default(String(DEFAULT_PORT)),
    )
    .option("--host <address>", "router interface", "127.0.0.1")
    .action((options: DevOptions) => devCommand(options, env));

  program
    .command("worker")
    .description(
      "run one agent: its queue worker and POST /v1/execute (env: AGENT_TYPE, REDIS_URL, EXECUTOR, ...)",
    )
    .addOption(new Option("--agent <type>", "agent type (default: AGENT_TYPE)").choices(AGENT_TYPES))
    .action(async (options: { agent?: string }) => {
      await runAgent(env, options.agent);
    });

  program
    .command("router")
    .description("run the task router (env: PORT, REDIS_URL, ROUTER_TOKENS_FILE, ...)")
    .action(() => runRouter(env));

  program
    .command("submit")
    .description("submit a task through the router")
    .requiredOption("--type <type>", "task type, e.g. code-review")
    .option("--prompt <text>", "the prompt, as plain text; @file or - for stdin")
    .option(
      "--input <json>",
      'the input as a JSON object, e.g. \'{"prompt": "...", "diff": "..."}\'; @file or -',
    )
    .option("--priority <p>", "0-3, P0-P3 or critical|high|normal|low (default normal)")
    .option("--id <id>", "task id (a second submit with it is a duplicate)")
    .option("--wait", "wait for the result and print it", false)
    .option("--timeout <seconds>", "with --wait: give up after this long", "300")
    .action(async (options: Omit<SubmitOptions, keyof ClientOptions>) => {
      setExit(await submitCommand({ ...options, ...client() }));
    });

  program
    .command("status")
    .description("show a task's status and result")
    .argument("<id>", "task id")
    .action(async (id: string) => setExit(await statusCommand(id, client())));

  program
    .command("queues")
    .description("ready (by priority), in-flight, delayed and dead tasks per agent")
    .option("--json", "print JSON", false)
    .action(async (options: { json: boolean }) => setExit(await queuesCommand({ ...client(), ...options })));

  program
    .command("dlq")
    .description(
      "dead-letter set of an agent, straight from Redis (env: REDIS_URL, REDIS_PASSWORD, QUEUE_PREFIX; default: the running agent-fleet dev's)",
    )
    .addArgument(new Argument("<action>", "what to do").choices(["list", "retry", "purge"]))
    .option("--redis-url <url>", "the fleet's Redis (else REDIS_URL, else the running agent-fleet dev's)")
    .addOption(new Option("--agent <type>", "agent type").choices(AGENT_TYPES).makeOptionMandatory())
    .option("--id <ids...>", "only these task ids")
    .option("--limit <n>", "at most this many tasks", "100")
    .option("--yes", "purge: confirm deleting without --id", false)
    .option("--json", "list: print JSON", false)
    .action(async (action: string, options: DlqOptions) => setExit(await dlqCommand(action, options, env)));

  return program;
}

/** Runs the CLI; resolves with the exit code (long-running commands resolve once started). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let code = 0;
  const program = buildProgram(env, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const usage =
      error instanceof UsageError ||
      error instanceof InputError ||
      error instanceof EnvError ||
      error instanceof ExecutorConfigError ||
      error instanceof RouterConfigError ||
      error instanceof LocalRedisError;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`agent-fleet: ${message}\n`);
    if (
      !usage &&
      !(error instanceof RouterClientError) &&
      env.AGENT_FLEET_DEBUG === "1" &&
      error instanceof Error
    ) {
      process.stderr.write(`${error.stack ?? ""}\n`);
    }
    return usage ? 2 : 1;
  }
}
