/**
 * A small writer of OCI image layouts (image-spec v1.1: `oci-layout`, `index.json`, `blobs/sha256/`)
 * and their tar archives, which `ctr images import` reads. Layers are directory trees on disk,
 * tarred as they are, so what a layer holds is what its folder holds.
 *
 * Layers are written by GNU tar rather than node-tar: `--sort=name`, `--mtime`, `--owner/--group`
 * and `--numeric-owner` make a byte-identical tar from the same tree in one command, while node-tar
 * adds a folder's entries in readdir order (unsorted on most filesystems), so a reproducible layer
 * would need our own directory walk around it. GNU format, not POSIX: POSIX (pax) headers record
 * atime and ctime, which would change with every run; GNU's long-name records are read by
 * containerd's Go archive/tar like any other.
 *
 * Layers stay uncompressed (media type `...layer.v1.tar`): the archive is imported from a local
 * disk, never pulled over a network, so gzip would only cost time (seconds for the node binary) and
 * tie the digests to one zlib's output; uncompressed, a layer's digest is also its diff_id.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
} as const;

/** The annotation containerd names an imported image by (a full reference). */
export const CONTAINERD_IMAGE_NAME = "io.containerd.image.name";
/** The OCI annotation for a reference name (see ociReferenceName). */
export const OCI_REF_NAME = "org.opencontainers.image.ref.name";

/** `ghcr.io/a/b:1.0` → `{ repository: "ghcr.io/a/b", tag: "1.0" }`; a registry's `:port` is not a tag. */
export function splitReference(ref: string): { repository: string; tag: string | undefined } {
  const name = ref.split("@")[0] ?? ref;
  const at = name.lastIndexOf(":");
  if (at < 0 || at < name.lastIndexOf("/")) return { repository: name, tag: undefined };
  return { repository: name.slice(0, at), tag: name.slice(at + 1) };
}

/**
 * The reference name containerd's exporter writes beside io.containerd.image.name, and so what its
 * importer expects: the tag alone for a tagged name (OCI's grammar for ref.name allows no ':' or
 * '/'), the whole name for a by-digest one (`repo@sha256:…`).
 */
export function ociReferenceName(name: string): string {
  return name.includes("@") ? name : (splitReference(name).tag ?? name);
}

/** `<repository>@<digest>`: the name CRI resolves `<repository>:<tag>@<digest>` to (it drops the tag). */
export function digestReference(ref: string, digest: string): string {
  return `${splitReference(ref).repository}@${digest}`;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
  annotations?: Record<string, string>;
}

/** The runtime part of an image config (`config` in image-spec's config.md), spelled as the spec does. */
export interface ImageRuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
}

/** A layer in the layout, with a line for the image history saying where it came from. */
export interface Layer {
  descriptor: Descriptor;
  createdBy: string;
}

/** Options that make GNU tar's output a function of the tree's names, contents, modes and links only. */
const REPRODUCIBLE_TAR = [
  "--sort=name",
  "--format=gnu",
  "--mtime=@0",
  "--owner=0",
  "--group=0",
  "--numeric-owner",
];

/** Tars the contents of `root` (not `root` itself) into `file`, reproducibly. */
export function tarTree(root: string, file: string): void {
  const entries = readdirSync(root).sort();
  if (entries.length === 0) throw new Error(`tarTree: ${root} is empty; a layer needs at least one entry`);
  execFileSync(
    "tar",
    ["--create", `--file=${file}`, `--directory=${root}`, ...REPRODUCIBLE_TAR, "--", ...entries],
    {
      // Byte order for --sort=name whatever the caller's locale.
      env: { ...process.env, LC_ALL: "C" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/** The platform every image here is for: the CI node is linux/amd64 (the host's own binaries go in). */
export const PLATFORM = { architecture: "amd64", os: "linux" } as const;

export class OciLayout {
  private readonly blobs: string;

  constructor(readonly dir: string) {
    this.blobs = join(dir, "blobs", "sha256");
    mkdirSync(this.blobs, { recursive: true });
    writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  }

  /** Stores `bytes` as a blob. */
  addBlob(mediaType: string, bytes: Buffer): Descriptor {
    const hex = createHash("sha256").update(bytes).digest("hex");
    writeFileSync(join(this.blobs, hex), bytes);
    return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
  }

  /** Tars the tree at `root` into a layer blob. */
  async addLayer(root: string, createdBy: string): Promise<Layer> {
    const pending = join(this.dir, `layer-${process.pid}.tar`);
    tarTree(root, pending);
    const digest = await sha256File(pending);
    const size = statSync(pending).size;
    renameSync(pending, join(this.blobs, digest.slice("sha256:".length)));
    return { descriptor: { mediaType: MEDIA_TYPES.layer, digest, size }, createdBy };
  }

  /** Writes an image's config and manifest; returns the manifest's descriptor (its digest names the image). */
  addImage(layers: readonly Layer[], config: ImageRuntimeConfig): Descriptor {
    // Key order is fixed by these literals, so equal images serialise to equal bytes.
    const imageConfig = {
      architecture: PLATFORM.architecture,
      os: PLATFORM.os,
      config,
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.descriptor.digest) },
      history: layers.map((l) => ({ created: "1970-01-01T00:00:00Z", created_by: l.createdBy })),
    };
    const configDescriptor = this.addBlob(MEDIA_TYPES.config, Buffer.from(JSON.stringify(imageConfig)));
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: configDescriptor,
      layers: layers.map((l) => l.descriptor),
    };
    return this.addBlob(MEDIA_TYPES.manifest, Buffer.from(JSON.stringify(manifest)));
  }

  /**
   * Writes index.json: one entry per name of each image, in the order given (several names of one
   * image point at the same manifest, as `ctr images export` writes them).
   */
  writeIndex(images: readonly { manifest: Descriptor; names: readonly string[] }[]): void {
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: images.flatMap(({ manifest, names }) =>
        names.map((name) => ({
          ...manifest,
          platform: PLATFORM,
          annotations: { [CONTAINERD_IMAGE_NAME]: name, [OCI_REF_NAME]: ociReferenceName(name) },
        })),
      ),
    };
    writeFileSync(join(this.dir, "index.json"), JSON.stringify(index, null, 2) + "\n");
  }

  /** Tars the layout into `file` (reproducibly, like the layers). */
  archive(file: string): void {
    tarTree(this.dir, file);
  }
}
