/**
 * Everything the node images are made from, and the hashes that key their caches: the build
 * context (buildContextHash, the one the release tags use: sources, lockfile, Dockerfile), the node
 * version, the host files with their Debian package versions, the tools whose output lands in a
 * layer (GNU tar, gcc, npm), the pinned Kubernetes release, and the assembler's own code. Gathering
 * them is quick (a few ldd and dpkg calls), so a warm run finds its archive in about a second.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { buildContextHash } from "../../../infra/components/images/agent-images";
import { debianPackages, sharedLibraries, withLibraries, type HostFile } from "./host-files";
import { DEPS_MANIFESTS, nodeBinary, run, sha256, type Log } from "./stage";

export interface Inputs {
  root: string;
  cacheRoot: string;
  /** sha256 over `record`. */
  hash: string;
  nodeVersion: string;
  kubernetesVersion: string;
  /** `redis-server --version`'s v=…, e.g. 7.0.15. */
  redisVersion: string;
  hostFiles: { node: HostFile[]; redis: HostFile[] };
  /** Cache keys of the staged steps (test/node/support/stage.ts). */
  keys: { deps: string; runtime: string; pause: string };
  /** What the hash covers, written beside a cached archive as inputs.json. */
  record: Record<string, unknown>;
}

const REDIS_FILES = ["/usr/bin/redis-server", "/usr/bin/redis-cli"];
const BUSYBOX = "/bin/busybox";
const APT_HINT = "apt-get update && apt-get install -y redis-server redis-tools busybox-static";

/** `NAME="…"` (or NAME="${NAME:-…}") in a shell script of the repository: the one place a version is pinned. */
export function pinnedInScript(root: string, script: string, name: string): string {
  const text = readFileSync(join(root, script), "utf8");
  const match = new RegExp(`^${name}="(?:\\$\\{${name}:-)?([^"}]+)\\}?"`, "m").exec(text);
  if (!match?.[1]) throw new Error(`no ${name}="…" line in ${script}`);
  return match[1];
}

export function defaultCacheRoot(): string {
  return process.env.AGENT_FLEET_CACHE || join(homedir(), ".cache", "agent-fleet");
}

export function gatherInputs(args: {
  root: string;
  cacheRoot?: string | undefined;
  log: Log;
  /** Settings that change the archive but not the images (names). */
  extra: Record<string, string>;
}): Inputs {
  const { root, log } = args;
  const cacheRoot = args.cacheRoot ?? defaultCacheRoot();
  // node-env.sh lets NODE_VERSION override its pin; so does this, to stay with the node it put on PATH.
  const nodeVersion = process.env.NODE_VERSION || pinnedInScript(root, ".ci/node-env.sh", "NODE_VERSION");
  const kubernetesVersion = pinnedInScript(root, "test/e2e/toolchain.sh", "KUBERNETES_VERSION");
  const node = nodeBinary(cacheRoot, nodeVersion, log);

  for (const file of [...REDIS_FILES, BUSYBOX, "/usr/bin/env"]) {
    if (!existsSync(file)) throw new Error(`${file} is missing on this host: ${APT_HINT}`);
  }
  const hostFiles = {
    node: dedupe([
      { from: node, to: "/usr/local/bin/node" },
      ...sharedLibraries(node).map((path) => ({ from: path, to: path })),
      // For `#!/usr/bin/env node`, the first line of the agent-fleet command.
      ...withLibraries(["/usr/bin/env"]),
    ]),
    // busybox-static needs no libraries; its sh and grep are symlinks made in the layer.
    redis: dedupe([...withLibraries(REDIS_FILES), { from: BUSYBOX, to: BUSYBOX }]),
  };
  const fromHost = [...hostFiles.node, ...hostFiles.redis].map((f) => f.from).filter((f) => f !== node);
  const debian = debianPackages([...new Set(fromHost)]);
  const redisVersion = /v=(\S+)/.exec(
    run("redis-server --version", REDIS_FILES[0] as string, ["--version"]),
  )?.[1];
  if (!redisVersion) throw new Error(`cannot read the version of ${REDIS_FILES[0]}`);

  const tools = {
    tar: firstLine(run("tar --version", "tar", ["--version"])),
    gcc: firstLine(run("gcc --version (pause is compiled with gcc -static)", "gcc", ["--version"])),
    npm: run("npm --version", "npm", ["--version"]).trim(),
  };
  const own = (file: string) => readFileSync(join(__dirname, file));
  const stageCode = sha256(own("stage.ts"));
  const deps = sha256(
    stageCode,
    nodeVersion,
    tools.npm,
    ...DEPS_MANIFESTS.map((m) => readFileSync(join(root, m))),
  );
  const contextHash = buildContextHash(root);
  const keys = {
    deps,
    runtime: sha256(stageCode, deps, contextHash),
    pause: sha256(stageCode, kubernetesVersion, tools.gcc),
  };
  const assembler = sha256(
    readFileSync(join(__dirname, "..", "images.ts")),
    ...readdirSync(__dirname)
      .filter((f) => f.endsWith(".ts"))
      .sort()
      .map(own),
  );
  const record = {
    assembler,
    contextHash,
    keys,
    nodeVersion,
    kubernetesVersion,
    redisVersion,
    debian,
    tools,
    hostFiles,
    ...args.extra,
  };
  return {
    root,
    cacheRoot,
    hash: sha256(JSON.stringify(record)),
    nodeVersion,
    kubernetesVersion,
    redisVersion,
    hostFiles,
    keys,
    record,
  };
}

function firstLine(text: string): string {
  return text.split("\n")[0]?.trim() ?? "";
}

function dedupe(files: HostFile[]): HostFile[] {
  const byTarget = new Map(files.map((f) => [f.to, f]));
  return [...byTarget.values()].sort((a, b) => (a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
}
