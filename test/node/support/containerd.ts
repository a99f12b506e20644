/**
 * A throwaway containerd (root, state and socket in a folder of the caller's) to import an archive
 * into, as the node will. The binaries are the ones test/e2e/toolchain.sh builds; this never builds
 * them, so the check runs only where that build has finished.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pinnedInScript } from "./inputs";

export interface ContainerdBinaries {
  containerd: string;
  ctr: string;
}

/** containerd and ctr from `<cacheRoot>/e2e-tools/containerd-<CONTAINERD_VERSION>/bin`, if built (`.ok`). */
export function builtContainerd(root: string, cacheRoot: string): ContainerdBinaries | undefined {
  const version = pinnedInScript(root, "test/e2e/toolchain.sh", "CONTAINERD_VERSION");
  const dir = join(cacheRoot, "e2e-tools", `containerd-${version}`);
  const binaries = { containerd: join(dir, "bin", "containerd"), ctr: join(dir, "bin", "ctr") };
  return existsSync(join(dir, ".ok")) && existsSync(binaries.containerd) && existsSync(binaries.ctr)
    ? binaries
    : undefined;
}

export interface Containerd {
  /** Runs ctr against this containerd; throws with its output when it fails. */
  ctr(args: readonly string[]): string;
  stop(): Promise<void>;
}

export async function startContainerd(binaries: ContainerdBinaries, dir: string): Promise<Containerd> {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, "containerd.sock");
  const config = join(dir, "config.toml");
  // The smallest config: everything else is containerd's default (overlayfs, the CRI plugin on).
  writeFileSync(
    config,
    [
      "version = 3",
      `root = ${JSON.stringify(join(dir, "root"))}`,
      `state = ${JSON.stringify(join(dir, "state"))}`,
      "[grpc]",
      `  address = ${JSON.stringify(socket)}`,
      "",
    ].join("\n"),
  );
  const log = openSync(join(dir, "containerd.log"), "a");
  const child: ChildProcess = spawn(binaries.containerd, ["--config", config], {
    stdio: ["ignore", log, log],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const ctr = (args: readonly string[]): string => {
    const run = spawnSync(binaries.ctr, ["--address", socket, ...args], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (run.status !== 0) {
      throw new Error(
        `ctr ${args.join(" ")} exited with ${run.status}: ${run.stderr}\n(log: ${dir}/containerd.log)`,
      );
    }
    return run.stdout;
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`containerd exited at start (log: ${dir}/containerd.log)`);
    if (spawnSync(binaries.ctr, ["--address", socket, "version"], { stdio: "ignore" }).status === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not answer on ${socket} within 30 s (log: ${dir}/containerd.log)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { ctr, stop };
}
