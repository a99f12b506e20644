/**
 * `npm run images:bake -- --stack <name> --out <file> [--tag <tag>] [--repository <registry path>]`:
 * the `docker buildx bake` file that builds the stack's images outside `pulumi up` (deploy.yml,
 * docs/ci.md). The registry, platforms, tag and canary come from the stack's `images` config
 * (`source: build`); the build context is the current folder (the repository root). ECR needs --repository (<account>.dkr.ecr.<region>.amazonaws.com/<prefix>),
 * which the stack file cannot know offline.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { StackConfigError } from "../config/errors";
import { readStackFile } from "../config/load";
import { resolveStackConfig, type FleetConfig } from "../config/resolve";
import { isBuildContext } from "../components/images/agent-images";
import { builtCanary, stackRegistry } from "../program/deploy";
import { parseStackCommand } from "../render/stack-cli";
import { bakeDefinition, ReleaseError } from "./bake";

const USAGE =
  "usage: npm run images:bake -- --stack <name> --out <file> [--tag <tag>] [--repository <registry path>] [--dir <project dir>]";

type BuildImages = Extract<FleetConfig["images"], { source: "build" }>;

function repositoryOf(images: BuildImages, config: FleetConfig, file: string): string {
  const r = images.registry;
  if (r.kind === "external") return r.repository;
  if (r.kind === "artifact-registry" && config.cluster.provider === "gke") {
    return `${r.location}-docker.pkg.dev/${config.cluster.project}/${r.repositoryId}`;
  }
  throw new ReleaseError(
    `${file}: images.registry.kind ${r.kind}: the registry path depends on the cloud account; ` +
      `pass --repository (ECR: <account>.dkr.ecr.<region>.amazonaws.com/<repositoryPrefix>)`,
  );
}

/** An --out that exists must be an earlier bake file: anything else is not ours to overwrite. */
function checkOut(out: string): void {
  if (!existsSync(out)) return;
  let earlier: unknown;
  try {
    earlier = JSON.parse(readFileSync(out, "utf8"));
  } catch {
    earlier = undefined;
  }
  const isBake = typeof earlier === "object" && earlier !== null && "group" in earlier && "target" in earlier;
  if (!isBake) {
    throw new ReleaseError(`${out} exists and is not a bake file this command wrote; choose another --out`);
  }
}

function main(): number {
  const cmd = parseStackCommand("images:bake", USAGE, {
    out: { type: "string", short: "o" },
    tag: { type: "string" },
    repository: { type: "string" },
  });
  if ("exit" in cmd) return cmd.exit;
  const { stackFile, values } = cmd;
  // The bake file's context is ".": the checkout `docker buildx bake` runs in, as this command does.
  const root = process.cwd();
  const out = typeof values.out === "string" ? values.out : undefined;
  if (out === undefined || out === "") {
    console.error(`images:bake: --out is required\n${USAGE}`);
    return 2;
  }
  const stack = readStackFile(stackFile);
  const config = resolveStackConfig(stack);
  const images = config.images;
  if (images.source !== "build") {
    throw new ReleaseError(
      `${stack.file}: images.source is "prebuilt", so this stack builds nothing; bake from a stack with images.source: build (deploy.yml uses staging)`,
    );
  }
  if (!isBuildContext(root)) {
    throw new ReleaseError(
      `${root} is not an agent-fleet checkout (no images/Dockerfile and its inputs): run this from the repository root`,
    );
  }
  const repository =
    typeof values.repository === "string" ? values.repository : repositoryOf(images, config, stack.file);
  const tag = typeof values.tag === "string" ? values.tag : images.tag;
  const canary = builtCanary(config);
  const bake = bakeDefinition({
    root,
    repository,
    registry: stackRegistry(images.registry, config),
    tag,
    platforms: images.platforms,
    ...(canary ? { canary } : {}),
    immutableTags: images.registry.kind === "ecr",
  });
  checkOut(out);
  writeFileSync(`${out}.tmp`, `${JSON.stringify(bake, null, 2)}\n`);
  renameSync(`${out}.tmp`, out);
  const targets = bake.group.default.targets;
  console.log(
    `images:bake: wrote ${out}: ${targets.length} images (${targets.join(", ")}) for ${repository}, tag ${tag}, ${images.platforms.join(" + ")}\n` +
      `  build and push them with: docker buildx bake -f ${out} --push --metadata-file images.json\n` +
      `  then pin a stack to them: npm run images:promote -- --stack <name> --metadata images.json`,
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  if (err instanceof StackConfigError || err instanceof ReleaseError) {
    console.error(err.message);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
