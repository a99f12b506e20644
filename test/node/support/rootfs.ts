/**
 * Looking inside an assembled archive the way a container runtime does: read the OCI layout,
 * unpack an image's layers into a root filesystem, and run commands in it as a pod would see it:
 * chroot as the image's user with the image's environment, the root filesystem read-only and
 * tmpfs where the pod mounts emptyDirs, in private mount and network namespaces (so a server in it
 * can use its real port without meeting the host's). Needs root, unshare(1), chroot(1) and busybox.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().regex(/^sha256:[a-f0-9]{64}$/),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: z.object({ architecture: z.string(), os: z.string() }).optional(),
});
const indexSchema = z.object({ schemaVersion: z.literal(2), manifests: z.array(descriptor) });
const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string(),
  config: descriptor,
  layers: z.array(descriptor),
});
const configSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  config: z.object({
    User: z.string().optional(),
    ExposedPorts: z.record(z.string(), z.object({})).optional(),
    Env: z.array(z.string()).optional(),
    Entrypoint: z.array(z.string()).optional(),
    Cmd: z.array(z.string()).optional(),
    WorkingDir: z.string().optional(),
  }),
  rootfs: z.object({ type: z.literal("layers"), diff_ids: z.array(z.string()) }),
});

export type IndexEntry = z.infer<typeof descriptor>;
export type ImageManifest = z.infer<typeof manifestSchema>;
export type ImageConfig = z.infer<typeof configSchema>;

function blob(layout: string, digest: string): string {
  return join(layout, "blobs", "sha256", digest.slice("sha256:".length));
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}

export function readIndex(layout: string): IndexEntry[] {
  return indexSchema.parse(readJson(join(layout, "index.json"))).manifests;
}

export function readImage(layout: string, digest: string): { manifest: ImageManifest; config: ImageConfig } {
  const manifest = manifestSchema.parse(readJson(blob(layout, digest)));
  return { manifest, config: configSchema.parse(readJson(blob(layout, manifest.config.digest))) };
}

/** Runs a command that must succeed; returns stdout. */
export function must(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${result.status}: ${result.stderr}`);
  }
  return result.stdout;
}

/** Extracts each layer in order into `rootfs`, keeping modes (the layers delete nothing: no whiteouts). */
export function unpackImage(layout: string, manifest: ImageManifest, rootfs: string): void {
  for (const layer of manifest.layers) {
    must("tar", [
      "--extract",
      "--same-permissions",
      `--file=${blob(layout, layer.digest)}`,
      `--directory=${rootfs}`,
    ]);
  }
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

export interface SandboxOptions {
  /** Folders of the image that get an empty tmpfs, as the pod's emptyDir volumes (mode 1777). */
  scratch: readonly string[];
  /** The image's Env (`NAME=value`), plus what the pod would add. */
  env: readonly string[];
  /** user:group for `in_image`, e.g. "10001:10001". */
  user: string;
  timeoutMs?: number;
}

/**
 * Runs the host shell `script` in new mount and network namespaces where `rootfs` is read-only and
 * `scratch` folders are tmpfs. The script has `in_image CMD ARGS...`: the command run inside the
 * image as `user` with exactly `env` (a pod's view; the working directory is /), and
 * `start_in_image CMD ARGS...`, the same in the background with its pid in $started. Loopback is up.
 */
export function inSandbox(rootfs: string, script: string, options: SandboxOptions): SpawnSyncReturns<string> {
  const envWords = options.env.map(quote).join(" ");
  const prelude = [
    "set -e",
    `R=${quote(rootfs)}`,
    'mount --bind "$R" "$R"',
    'mount -o remount,bind,ro "$R"',
    ...options.scratch.map((dir) => `mount -t tmpfs -o mode=1777 tmpfs "$R"${quote(dir)}`),
    // busybox-static's ip (the redis image needs busybox anyway): loopback is down in a new namespace.
    "/bin/busybox ip link set lo up",
    'CHROOT="$(command -v chroot)"',
    `in_image() { env -i ${envWords} "$CHROOT" --userspec=${quote(options.user)} "$R" "$@"; }`,
    // In the background, with its pid in $started: env and chroot exec, so that pid is the command's.
    `start_in_image() { env -i ${envWords} "$CHROOT" --userspec=${quote(options.user)} "$R" "$@" & started=$!; }`,
    "set +e",
  ].join("\n");
  // A PID namespace too, with the shell as its init: whatever the script leaves running (a server
  // after a failed check, or everything on a timeout) dies with it.
  const namespaces = ["--mount", "--net", "--pid", "--fork", "--kill-child"];
  return spawnSync("unshare", [...namespaces, "--", "sh", "-c", `${prelude}\n${script}`], {
    encoding: "utf8",
    timeout: options.timeoutMs ?? 60_000,
    killSignal: "SIGKILL",
  });
}
