/**
 * Loads the Lua scripts from `lua/*.lua`, expands `-- @include <name>` lines from `lua/includes/`
 * (each fragment once per script), and runs them with EVALSHA, falling back to EVAL when the
 * server does not know the script (after a restart or a SCRIPT FLUSH).
 *
 * The files are found relative to the package root, so the same code works from `src/` (tsx,
 * vitest), from `dist/` and in the images (which ship `src/queue/lua/` beside `dist/`); the build
 * also copies them to `dist/queue/lua/` for a dist-only install.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Redis } from "ioredis";

export const SCRIPT_NAMES = [
  "enqueue.v1",
  "claim.v1",
  "ack.v1",
  "fail.v1",
  "renew.v1",
  "release.v1",
  "reap.v1",
  "stats.v1",
  "dlq-retry.v1",
  "dlq-purge.v1",
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** The folder holding the .lua files. */
export function luaDirectory(): string {
  const candidates = [
    // <package>/src/queue/lua, from src/queue (tsx) or dist/queue (compiled)
    path.resolve(__dirname, "..", "..", "src", "queue", "lua"),
    path.resolve(__dirname, "lua"),
  ];
  const found = candidates.find((dir) => existsSync(path.join(dir, "enqueue.v1.lua")));
  if (found === undefined) {
    throw new Error(`the queue's Lua scripts are missing: looked in ${candidates.join(" and ")}`);
  }
  return found;
}

const INCLUDE = /^--\s*@include\s+([a-z0-9-]+)\s*$/gm;

/** A script's source with its includes expanded: what Redis runs. */
export function scriptSource(name: ScriptName, dir: string = luaDirectory()): string {
  const included = new Set<string>();
  const expand = (text: string, from: string): string =>
    text.replace(INCLUDE, (_line, fragment: string) => {
      if (included.has(fragment)) return `-- (${fragment} already included)`;
      included.add(fragment);
      const file = path.join(dir, "includes", `${fragment}.lua`);
      if (!existsSync(file)) throw new Error(`${from} includes "${fragment}", but ${file} does not exist`);
      return expand(readFileSync(file, "utf8"), file);
    });
  const file = path.join(dir, `${name}.lua`);
  return expand(readFileSync(file, "utf8"), file);
}

export class Script {
  readonly sha: string;

  constructor(
    readonly name: ScriptName,
    readonly source: string,
  ) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }
}

export type ScriptSet = Record<ScriptName, Script>;

let cached: ScriptSet | undefined;

/** All scripts, read once per process. */
export function loadScripts(): ScriptSet {
  if (cached) return cached;
  const dir = luaDirectory();
  const entries = SCRIPT_NAMES.map((name) => [name, new Script(name, scriptSource(name, dir))] as const);
  cached = Object.fromEntries(entries) as ScriptSet;
  return cached;
}
