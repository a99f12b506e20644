/**
 * The fleet's images: the 12 agent images and the router, built from images/Dockerfile with
 * @pulumi/docker-build and pushed to the stack's registry, referenced by digest. Plus the references
 * for images built elsewhere (`images.source: prebuilt`).
 *
 * Why docker-build rather than @pulumi/docker: it drives BuildKit directly, so multi-platform builds
 * (amd64 + arm64 in one manifest list), registry cache import/export and a `digest` output come
 * built in; docker.Image builds one platform, caches through inline images only, and its repoDigest
 * needs a local daemon. See docs/images.md.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import * as dockerbuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { AGENT_TYPES, type AgentType } from "../../catalog";
import { ArgsProblems } from "../../lib/args";
import {
  BUILD_CACHE_TAG,
  ImageRegistry,
  imageRepositoryName,
  type ImageName,
  type RegistryCredentials,
  type RegistrySpec,
} from "./image-registry";

/** An image reference per image; the router's is always there. */
export type ImageRefs = { router: pulumi.Input<string> } & Partial<Record<AgentType, pulumi.Input<string>>>;

/** What the fleet needs from an image source, built here or prebuilt. */
export interface ImageSet {
  refs: ImageRefs;
  /** The canary's image, when built here (AgentImagesArgs.canary). */
  canary?: pulumi.Input<string>;
  /** Set when pods need an imagePullSecret to pull these images. */
  pullCredentials?: RegistryCredentials;
}

/** AgentFleetArgs["images"]: the same references, agents and router apart. */
export function toFleetImages(refs: ImageRefs): {
  agents: Partial<Record<AgentType, pulumi.Input<string>>>;
  router: pulumi.Input<string>;
} {
  const { router, ...agents } = refs;
  return { agents, router };
}

// ---------------------------------------------------------------- build context

/** The Dockerfile, relative to the repository root (the build context). */
export const DOCKERFILE = "images/Dockerfile";

/**
 * What the Dockerfile reads from the context, relative to the repository root. The Dockerfile's
 * ignore-file (images/Dockerfile.dockerignore) allows exactly this, and the release tags hash it.
 */
export const BUILD_CONTEXT = {
  include: [
    "package.json",
    "package-lock.json",
    "tsconfig.base.json",
    "policy/package.json",
    "agent-runtime/",
    "images/agents/",
  ],
  exclude: ["agent-runtime/node_modules/", "agent-runtime/dist/"],
} as const;

/** The patterns images/Dockerfile.dockerignore must hold, in order. */
export function dockerignorePatterns(): string[] {
  return ["*", ...BUILD_CONTEXT.include.map((p) => `!${p}`), ...BUILD_CONTEXT.exclude];
}

const CONTEXT_HELP = `the build needs ${[DOCKERFILE, ...BUILD_CONTEXT.include].join(", ")}`;

/**
 * Whether `root` holds everything the Dockerfile reads. The npm package ships none of it (npm never
 * packs package-lock.json, which the image's `npm ci` needs): a project that installed agent-fleet
 * gives a source checkout as `context`, or deploys prebuilt images.
 */
export function isBuildContext(root: string): boolean {
  return [DOCKERFILE, ...BUILD_CONTEXT.include].every((rel) => existsSync(join(root, rel)));
}

/** The repository root above `start`: the first folder holding images/Dockerfile. */
export function findRepositoryRoot(start: string = __dirname): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, DOCKERFILE))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function contextFiles(root: string): string[] {
  const excluded = (rel: string) => BUILD_CONTEXT.exclude.some((e) => `${rel}/`.startsWith(e));
  const files: string[] = [];
  const walk = (rel: string) => {
    const abs = join(root, rel);
    if (!existsSync(abs) || excluded(rel)) return;
    if (!statSync(abs).isDirectory()) {
      files.push(rel);
      return;
    }
    for (const entry of readdirSync(abs)) walk(`${rel}/${entry}`);
  };
  for (const entry of BUILD_CONTEXT.include) walk(entry.replace(/\/$/, ""));
  return files.sort();
}

/**
 * sha256 over the build context (names, executable bit and contents of every file the Dockerfile
 * can see) and the Dockerfile with its ignore-file: it changes exactly when docker-build's own
 * context hash does, so every rebuild comes with new release tags (ECR tags are immutable).
 */
export function buildContextHash(root: string): string {
  const h = createHash("sha256");
  for (const rel of [DOCKERFILE, `${DOCKERFILE}.dockerignore`, ...contextFiles(root)]) {
    const abs = join(root, rel);
    if (!existsSync(abs)) continue;
    const executable = (statSync(abs).mode & 0o111) !== 0;
    h.update(`${rel}\0${executable ? "x" : "-"}\0`);
    h.update(readFileSync(abs));
    h.update("\0");
  }
  return h.digest("hex");
}

// ---------------------------------------------------------------- per-image build settings

/** The Dockerfile target and build args of one image (an agent's canary is its own image). */
export function imageBuildSpec(
  image: ImageName,
  track: "stable" | "canary" = "stable",
): {
  target: "agent" | "router";
  buildArgs: Record<string, string>;
} {
  if (image === "router") return { target: "router", buildArgs: {} };
  return {
    target: "agent",
    buildArgs: { AGENT_TYPE: image, ...(track === "canary" ? { AGENT_TRACK: track } : {}) },
  };
}

/**
 * The immutable tag of one build: `<tag>-<12 hex>`, hashed from the context and every build setting of
 * the image, so a changed input always pushes a new tag and an unchanged one never a conflicting one.
 */
export function releaseTag(
  tag: string,
  contextHash: string,
  image: ImageName,
  platforms: readonly string[],
  registry: RegistrySpec,
  track: "stable" | "canary" = "stable",
): string {
  const { password: _password, ...where } = registry as RegistrySpec & { password?: unknown };
  const settings = JSON.stringify({
    image,
    ...imageBuildSpec(image, track),
    platforms: [...platforms].sort(),
    where,
  });
  const hash = createHash("sha256").update(contextHash).update("\0").update(settings).digest("hex");
  return `${tag}-${hash.slice(0, 12)}`;
}

// ---------------------------------------------------------------- AgentImages

export interface AgentImagesArgs {
  /** Agents to build an image for. Default: all 12. The router is always built. */
  agents?: readonly AgentType[];
  /** Where to push. */
  registry: RegistrySpec;
  /** Target platforms; two or more build one multi-platform manifest list. */
  platforms: readonly dockerbuild.Platform[];
  /**
   * Human-readable tag. Every build is pushed as `<tag>-<hash>` (see releaseTag) and, where the
   * registry's tags are mutable, also as `<tag>`.
   */
  tag: string;
  /** The repository root, used as build context. Default: found upwards from this file. */
  context?: string;
  /**
   * Build during `pulumi preview` too. Default true (docker-build's default): a broken Dockerfile
   * fails the preview. Set false where previews run without a Docker engine.
   */
  buildOnPreview?: boolean;
  /**
   * Also build a canary image of this agent (`AGENT_TRACK=canary`, pushed to the agent's repository
   * with its own release tag): the digest the canary pool runs, never a hand-written tag.
   */
  canary?: AgentType;
  /** Release images kept per image in the registry. Default 30. */
  keepReleases?: number;
  /** Labels/tags for the registry resources. */
  labels?: Record<string, string>;
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,114}$/;

/** Validates AgentImagesArgs; throws ComponentArgsError listing every problem by property path. */
export function validateAgentImagesArgs(name: string, args: AgentImagesArgs, root: string | undefined): void {
  const problems = new ArgsProblems("AgentImages", name);
  const agents = args.agents ?? AGENT_TYPES;
  agents.forEach((a, i) => {
    if (!(AGENT_TYPES as readonly string[]).includes(a)) {
      problems.add(`agents[${i}]`, `"${a}" is not an agent type (allowed: ${AGENT_TYPES.join(", ")})`);
    }
  });
  if (new Set(agents).size !== agents.length) problems.add("agents", "an agent is listed twice");
  if (args.canary !== undefined && !agents.includes(args.canary)) {
    problems.add("canary", `"${args.canary}" is not one of the agents built here`);
  }
  if (args.platforms.length === 0) problems.add("platforms", "list at least one platform");
  if (new Set(args.platforms).size !== args.platforms.length)
    problems.add("platforms", "a platform is listed twice");
  if (!TAG.test(args.tag)) {
    problems.add(
      "tag",
      `"${args.tag}" is not a Docker tag (letters, digits, '_', '.', '-'; at most 115 characters)`,
    );
  }
  if (root === undefined) {
    const where =
      args.context === undefined
        ? `no folder above ${__dirname} is an agent-fleet source checkout`
        : `${args.context} is not an agent-fleet source checkout`;
    problems.add(
      "context",
      `${where} (${CONTEXT_HELP}); ` +
        `pass args.context = a checkout of agent-fleet at this package's version, ` +
        `or deploy prebuilt images by digest instead (stack config images.source: prebuilt)`,
    );
  }
  problems.throwIfAny();
}

/**
 * Builds and pushes the agent images and the router. `refs` holds `<repository>@<digest>` per image:
 * pods follow the digest, so an image whose inputs did not change (rebuilt from cache to the same
 * digest, or not rebuilt at all) rolls no pod.
 */
export class AgentImages extends pulumi.ComponentResource implements ImageSet {
  readonly refs: ImageRefs;
  readonly pullCredentials?: RegistryCredentials;
  readonly registry: ImageRegistry;
  /** The docker-build Image of each image. */
  readonly images: Partial<Record<ImageName, dockerbuild.Image>>;
  /** The release tag (`<tag>-<hash>`) each image is pushed with. */
  readonly releaseTags: Partial<Record<ImageName, string>>;
  readonly canary?: pulumi.Output<string>;

  constructor(name: string, args: AgentImagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:images:AgentImages", name, {}, opts);
    const root = args.context ?? findRepositoryRoot();
    const contextOk = root !== undefined && isBuildContext(root);
    validateAgentImagesArgs(name, args, contextOk ? root : undefined);
    const contextRoot = root as string;

    const names: ImageName[] = [...(args.agents ?? AGENT_TYPES), "router"];
    const tag = args.tag;
    const platforms = [...args.platforms];
    this.registry = new ImageRegistry(
      `${name}-registry`,
      {
        registry: args.registry,
        images: names,
        releaseTagPrefix: `${tag}-`,
        ...(args.keepReleases !== undefined ? { keepReleases: args.keepReleases } : {}),
        ...(args.labels ? { labels: args.labels } : {}),
      },
      { parent: this },
    );
    if (this.registry.pullCredentials) this.pullCredentials = this.registry.pullCredentials;

    // Relative paths keep renders and state free of the machine's checkout location; Pulumi runs
    // the program and its providers from the project folder.
    const context = relative(process.cwd(), contextRoot) || ".";
    const contextHash = buildContextHash(contextRoot);
    const refs: Partial<Record<ImageName, pulumi.Output<string>>> = {};
    this.images = {};
    this.releaseTags = {};

    const builds: { image: ImageName; track: "stable" | "canary" }[] = [
      ...names.map((image) => ({ image, track: "stable" as const })),
      ...(args.canary ? [{ image: args.canary, track: "canary" as const }] : []),
    ];
    for (const { image, track } of builds) {
      const repository = this.registry.repositories[image] as pulumi.Output<string>;
      const spec = imageBuildSpec(image, track);
      const release = releaseTag(tag, contextHash, image, platforms, args.registry, track);
      const cacheRef = pulumi.interpolate`${repository}:${BUILD_CACHE_TAG}`;
      const built = new dockerbuild.Image(
        `${name}-${image}${track === "canary" ? "-canary" : ""}`,
        {
          context: { location: context },
          dockerfile: { location: join(context, DOCKERFILE) },
          target: spec.target,
          ...(Object.keys(spec.buildArgs).length ? { buildArgs: spec.buildArgs } : {}),
          platforms,
          push: true,
          tags: [
            pulumi.interpolate`${repository}:${release}`,
            ...(this.registry.immutableTags || track === "canary"
              ? []
              : [pulumi.interpolate`${repository}:${tag}`]),
          ],
          // Static labels only: anything per build would change the digest of every image.
          labels: { "org.opencontainers.image.title": imageRepositoryName(image) },
          cacheFrom: [{ registry: { ref: cacheRef } }],
          // A failed cache export must not fail the deploy; imageManifest for ECR's sake.
          cacheTo: [
            {
              registry: {
                ref: cacheRef,
                mode: "max",
                imageManifest: true,
                ociMediaTypes: true,
                ignoreError: true,
              },
            },
          ],
          registries: [this.registry.pushCredentials],
          ...(args.buildOnPreview !== undefined ? { buildOnPreview: args.buildOnPreview } : {}),
        },
        { parent: this },
      );
      const ref = pulumi.interpolate`${repository}@${built.digest}`;
      if (track === "canary") {
        this.canary = ref;
        continue;
      }
      this.images[image] = built;
      this.releaseTags[image] = release;
      refs[image] = ref;
    }
    this.refs = refs as ImageRefs;
    this.registerOutputs({ refs: this.refs, releaseTags: this.releaseTags });
  }
}

// ---------------------------------------------------------------- prebuilt images

export interface PrebuiltImagesSpec {
  /** Registry path the images live under, e.g. "ghcr.io/agent-fleet". */
  repository: string;
  tag: string;
  /** Digest per image (`sha256:<64 hex>`); images without one are referenced by tag only. */
  digests?: Partial<Record<ImageName, string>>;
}

/**
 * References for images built elsewhere: `<repository>/agent-<type>:<tag>[@<digest>]` and
 * `<repository>/router:<tag>[@<digest>]`. Pin digests in production: a tag alone rolls nothing when
 * it moves, and pods started later may run a different image than their peers.
 */
export function prebuiltImages(
  spec: PrebuiltImagesSpec,
  agents: readonly AgentType[] = AGENT_TYPES,
): ImageSet {
  const ref = (image: ImageName) => {
    const digest = spec.digests?.[image];
    return `${spec.repository}/${imageRepositoryName(image)}:${spec.tag}${digest ? `@${digest}` : ""}`;
  };
  const refs: ImageRefs = { router: ref("router") };
  for (const a of agents) refs[a] = ref(a);
  return { refs };
}
