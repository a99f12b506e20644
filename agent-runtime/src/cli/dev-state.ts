/**
 * How other commands find a running `agent-fleet dev`: dev records its router and Redis in
 * `dev.json` under the state folder (AGENT_FLEET_STATE_DIR, else $XDG_STATE_HOME/agent-fleet,
 * else ~/.local/state/agent-fleet) and deletes it when it stops. A record whose process is gone
 * (dev was SIGKILLed) is ignored. With several dev fleets, the last one started wins.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { z } from "zod";

const DevStateSchema = z.object({
  pid: z.int().positive(),
  routerUrl: z.string(),
  redisUrl: z.string(),
  prefix: z.string(),
  startedAt: z.string(),
});
export type DevState = z.infer<typeof DevStateSchema>;

export function devStatePath(env: NodeJS.ProcessEnv): string {
  const dir =
    env.AGENT_FLEET_STATE_DIR?.trim() ||
    path.join(env.XDG_STATE_HOME?.trim() || path.join(homedir(), ".local", "state"), "agent-fleet");
  return path.join(dir, "dev.json");
}

/** Records this process's fleet; returns the file's path. Readable by this user only (a REDIS_URL may hold a password). */
export function writeDevState(state: DevState, env: NodeJS.ProcessEnv): string {
  const file = devStatePath(env);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** Deletes the record if it is still this process's (a later dev may have replaced it). */
export function removeDevState(pid: number, env: NodeJS.ProcessEnv): void {
  if (readDevStateFile(env)?.pid === pid) rmSync(devStatePath(env), { force: true });
}

/** The running dev fleet's record, or undefined when none is running. */
export function readDevState(env: NodeJS.ProcessEnv): DevState | undefined {
  const state = readDevStateFile(env);
  return state && alive(state.pid) ? state : undefined;
}

function readDevStateFile(env: NodeJS.ProcessEnv): DevState | undefined {
  let text: string;
  try {
    text = readFileSync(devStatePath(env), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = DevStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // half-written or hand-edited: as if no fleet ran
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: gone; EPERM: another user's process, so not this user's dev
  }
}
