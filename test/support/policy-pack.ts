/**
 * The policy pack as the engine and the language host run it: policy/src compiled to policy/dist
 * (policy/README.md). Suites that run side by side (CI runs the e2e and node suites together) build
 * it one at a time, under a lock on the pack's folder, and `tsc -b` leaves an up-to-date build
 * alone: no suite reads a pack that another is rewriting, and the second build costs under a second.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "../..");
export const POLICY_PACK_DIR = join(ROOT, "policy");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

/** Compiles the pack unless it is up to date; throws with the compiler's messages if it fails. */
export function buildPolicyPack(): void {
  try {
    execFileSync(
      "flock",
      [POLICY_PACK_DIR, process.execPath, TSC, "-b", join(POLICY_PACK_DIR, "tsconfig.json")],
      {
        cwd: ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`building the policy pack failed:\n${stdout}${stderr}`, { cause: error });
  }
}
