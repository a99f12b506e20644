/**
 * The deploy pipeline builds the fleet's images once, outside `pulumi up`, and promotes the same
 * digests through dev, staging and prod (docs/ci.md):
 *
 *   bakeDefinition()     a `docker buildx bake` file (JSON) for the 12 agents, the router and the
 *                        canary: the same targets, build args, labels, cache and tags AgentImages
 *                        gives docker-build inside `pulumi up` (imageBuildSpec, releaseTag)
 *   imagesFromMetadata() the digests out of `docker buildx bake --metadata-file`
 *   promoteStackText()   a stack file whose images are those digests (`images.source: prebuilt`)
 */
import { parseDocument, isMap } from "yaml";
import { z } from "zod";
import { AGENT_TYPES, type AgentType, type ImageName } from "../catalog";
import { DOCKERFILE, buildContextHash, imageBuildSpec, releaseTag } from "../components/images/agent-images";
import { BUILD_CACHE_TAG, imageRepositoryName, type RegistrySpec } from "../components/images/image-registry";
import { CONFIG_NAMESPACE } from "../config/errors";

export interface BakeOptions {
  /** The checkout to build from (holds images/Dockerfile). */
  root: string;
  /** Registry path of the repositories: `<repository>/agent-python`, `<repository>/router`. */
  repository: string;
  /** The registry as the stack config states it (it is part of each release tag's hash). */
  registry: RegistrySpec;
  tag: string;
  platforms: readonly string[];
  /** Also bake this agent's canary image (AGENT_TRACK=canary). */
  canary?: AgentType;
  /** ECR: tags are immutable, so only the release tag is pushed (as AgentImages does). */
  immutableTags: boolean;
}

interface BakeTarget {
  context: string;
  dockerfile: string;
  target: string;
  args?: Record<string, string>;
  platforms: string[];
  tags: string[];
  labels: Record<string, string>;
  "cache-from": string[];
  "cache-to": string[];
}

export interface BakeFile {
  group: { default: { targets: string[] } };
  target: Record<string, BakeTarget>;
}

/** The bake target of an image: its repository name, `-canary` for the canary build. */
export function bakeTargetName(image: ImageName, track: "stable" | "canary" = "stable"): string {
  return `${imageRepositoryName(image)}${track === "canary" ? "-canary" : ""}`;
}

export function bakeDefinition(options: BakeOptions): BakeFile {
  const contextHash = buildContextHash(options.root);
  const builds: { image: ImageName; track: "stable" | "canary" }[] = [
    ...[...AGENT_TYPES, "router" as const].map((image) => ({ image, track: "stable" as const })),
    ...(options.canary ? [{ image: options.canary, track: "canary" as const }] : []),
  ];
  const target: Record<string, BakeTarget> = {};
  for (const { image, track } of builds) {
    const spec = imageBuildSpec(image, track);
    const repository = `${options.repository}/${imageRepositoryName(image)}`;
    const release = releaseTag(options.tag, contextHash, image, options.platforms, options.registry, track);
    const cache = `type=registry,ref=${repository}:${BUILD_CACHE_TAG}`;
    target[bakeTargetName(image, track)] = {
      context: ".",
      dockerfile: DOCKERFILE,
      target: spec.target,
      ...(Object.keys(spec.buildArgs).length ? { args: spec.buildArgs } : {}),
      platforms: [...options.platforms],
      tags: [
        `${repository}:${release}`,
        ...(options.immutableTags || track === "canary" ? [] : [`${repository}:${options.tag}`]),
      ],
      labels: { "org.opencontainers.image.title": imageRepositoryName(image) },
      "cache-from": [cache],
      "cache-to": [`${cache},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true`],
    };
  }
  return { group: { default: { targets: Object.keys(target) } }, target };
}

// ---------------------------------------------------------------- the build's digests

const DIGEST = /^sha256:[a-f0-9]{64}$/;

const metadataSchema = z.record(
  z.string(),
  z
    .object({
      "containerimage.digest": z.string().regex(DIGEST, "expected sha256:<64 hex>"),
      "image.name": z.string().min(1),
    })
    .loose(),
);

export interface BuiltImages {
  /** The registry path the images were pushed under. */
  repository: string;
  digests: Record<ImageName, string>;
  /** `<repository>/agent-<type>@<digest>` of the canary build, when there was one. */
  canary?: { agent: AgentType; image: string };
}

/**
 * The digests of a bake run's metadata file. Every image of the fleet must be there (a promotion
 * with an image missing would run a mix of releases); errors name the file and every problem.
 */
export function imagesFromMetadata(metadata: unknown, file: string): BuiltImages {
  const parsed = metadataSchema.safeParse(metadata);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(top level)"}: ${i.message}`);
    throw new ReleaseError(
      `${file}: not a "docker buildx bake --metadata-file" record: ${problems.join("; ")}`,
    );
  }
  const problems: string[] = [];
  const repositories = new Set<string>();
  const digests: Partial<Record<ImageName, string>> = {};
  let canary: BuiltImages["canary"];
  for (const image of [...AGENT_TYPES, "router" as const]) {
    const entry = parsed.data[bakeTargetName(image)];
    if (entry === undefined) {
      problems.push(`no target "${bakeTargetName(image)}"`);
      continue;
    }
    digests[image] = entry["containerimage.digest"];
    const name = entry["image.name"].split(",")[0] ?? "";
    const suffix = `/${imageRepositoryName(image)}:`;
    const at = name.lastIndexOf(suffix);
    if (at <= 0)
      problems.push(`${bakeTargetName(image)}: image.name "${name}" is not <repository>${suffix}<tag>`);
    else repositories.add(name.slice(0, at));
  }
  for (const agent of AGENT_TYPES) {
    const entry = parsed.data[bakeTargetName(agent, "canary")];
    if (entry === undefined) continue;
    const name = (entry["image.name"].split(",")[0] ?? "").replace(/:[^:/]+$/, "");
    canary = { agent, image: `${name}@${entry["containerimage.digest"]}` };
  }
  if (repositories.size > 1)
    problems.push(`the images were pushed under several registries: ${[...repositories].join(", ")}`);
  if (problems.length) throw new ReleaseError(`${file}: ${problems.join("; ")}`);
  return {
    repository: [...repositories][0] ?? "",
    digests: digests as Record<ImageName, string>,
    ...(canary ? { canary } : {}),
  };
}

// ---------------------------------------------------------------- the stack file

/**
 * The stack file with `agent-fleet:images` replaced by the built images, pinned by digest (its
 * `requireDigests` kept), and the canary's image set when the build made one. Everything else,
 * comments included, stays as written.
 */
export interface PullCredentials {
  server: string;
  username: string;
  passwordKey?: string;
}

export function promoteStackText(
  text: string,
  file: string,
  built: BuiltImages,
  tag: string,
  pullOverride?: PullCredentials,
): string {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ReleaseError(`${file}: ${doc.errors[0]?.message ?? "not YAML"}`);
  const key = `${CONFIG_NAMESPACE}:images`;
  const current: unknown = doc.getIn(["config", key]);
  const was = (isMap(current) ? current.toJSON() : {}) as {
    requireDigests?: unknown;
    registry?: { kind?: unknown; server?: unknown; username?: unknown; passwordKey?: unknown };
    pull?: unknown;
  };
  // A private external registry's credentials stay: the nodes still pull from it.
  const registry = was.registry;
  const pull =
    pullOverride ??
    was.pull ??
    (registry?.kind === "external"
      ? {
          server: registry.server,
          username: registry.username,
          ...(registry.passwordKey !== undefined ? { passwordKey: registry.passwordKey } : {}),
        }
      : undefined);
  doc.setIn(["config", key], {
    source: "prebuilt",
    ...(was.requireDigests === true ? { requireDigests: true } : {}),
    repository: built.repository,
    tag,
    digests: built.digests,
    ...(pull !== undefined ? { pull } : {}),
  });
  if (built.canary) {
    const path = ["config", `${CONFIG_NAMESPACE}:mesh`, "istio", "canary"];
    const canary: unknown = doc.getIn(path);
    if (isMap(canary) && canary.get("agent") === built.canary.agent) {
      doc.setIn([...path, "image"], built.canary.image);
    }
  }
  return doc.toString();
}

/** A release step failed for a reason the user can fix (printed without a stack trace). */
export class ReleaseError extends Error {
  override readonly name = "ReleaseError";
}
