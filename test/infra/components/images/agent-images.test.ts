import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, describe, expect, it } from "vitest";
import { AGENT_TYPES } from "../../../../infra/catalog";
import {
  AgentImages,
  BUILD_CONTEXT,
  buildContextHash,
  DOCKERFILE,
  dockerignorePatterns,
  findRepositoryRoot,
  imageBuildSpec,
  prebuiltImages,
  releaseTag,
  toFleetImages,
  validateAgentImagesArgs,
  type AgentImagesArgs,
} from "../../../../infra/components/images/agent-images";
import {
  IMAGE_NAMES,
  imageRepositoryName,
  type RegistrySpec,
} from "../../../../infra/components/images/image-registry";
import { RUNTIME_UID } from "../../../../infra/components/fleet/conventions";
import { fakeValue, promiseOf } from "../../../../infra/render/mocks";
import { ofType, underMocks } from "../../support/under-mocks";

const ROOT = join(__dirname, "..", "..", "..", "..");
const IMAGE_TYPE = "docker-build:index:Image";
const HEX12 = /^[a-f0-9]{12}$/;

const AR: RegistrySpec = { kind: "artifact-registry", location: "europe-west4", repositoryId: "agent-fleet" };
const AR_PATH = "europe-west4-docker.pkg.dev/mock-project/agent-fleet";

async function build(args: AgentImagesArgs, name = "images") {
  return underMocks(async () => {
    const images = new AgentImages(name, args);
    const refs: Record<string, string> = {};
    for (const [image, ref] of Object.entries(images.refs)) refs[image] = await promiseOf(pulumi.output(ref));
    return { images, refs };
  });
}

// ---------------------------------------------------------------- the Dockerfile and its context

/** Dockerfile stages by name, each with its instruction lines (continuations joined). */
function dockerfileStages(): Map<string, string[]> {
  const text = readFileSync(join(ROOT, DOCKERFILE), "utf8").replace(/\\\n/g, " ");
  const stages = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split("\n").map((l) => l.trim().replace(/\s+/g, " "))) {
    if (line === "" || line.startsWith("#")) continue;
    const from = /^FROM\s+\S+\s+AS\s+(\S+)$/i.exec(line);
    if (from) stages.set(from[1]!, (current = []));
    else current?.push(line);
  }
  return stages;
}

describe("images/Dockerfile", () => {
  const stages = dockerfileStages();

  it("has the build, prod-deps, base, agent and router stages; agent and router build on base", () => {
    expect([...stages.keys()]).toEqual(["node", "build", "prod-deps", "base", "router", "agent"]);
    const text = readFileSync(join(ROOT, DOCKERFILE), "utf8");
    expect(text).toMatch(/^FROM base AS router$/m);
    expect(text).toMatch(/^FROM base AS agent$/m);
    // The runtime image is plain Alpine plus the node binary; npm stays in the build stages.
    expect(text).toMatch(/^FROM alpine:\$\{ALPINE_VERSION\} AS base$/m);
    expect(text).toMatch(/^FROM node:\$\{NODE_VERSION\}-alpine\$\{ALPINE_VERSION\} AS node$/m);
    expect(text).toMatch(/^ARG NODE_VERSION=\d+\.\d+\.\d+$/m);
  });

  it("runs as the numeric uid the pod security context expects, with the CLI as entrypoint", () => {
    const base = stages.get("base")!;
    expect(base).toContain(`USER ${RUNTIME_UID}:${RUNTIME_UID}`);
    expect(base.some((l) => l.includes(`adduser -S -D -H -u ${RUNTIME_UID}`))).toBe(true);
    expect(base).toContain('ENTRYPOINT ["node", "/app/agent-runtime/bin/agent-fleet.js"]');
    expect(base).toContain("ENV NODE_ENV=production HOME=/tmp");
    expect(stages.get("router")).toEqual(['CMD ["router"]']);
  });

  it("parameterises the agent target by AGENT_TYPE and points the runtime at its files", () => {
    const agent = stages.get("agent")!;
    expect(agent[0]).toBe("ARG AGENT_TYPE");
    expect(agent).toContain("ARG AGENT_TRACK=stable");
    expect(agent).toContain("COPY images/agents/${AGENT_TYPE}/ /app/images/agents/${AGENT_TYPE}/");
    expect(agent).toContain(
      "ENV AGENT_TYPE=${AGENT_TYPE} AGENT_TRACK=${AGENT_TRACK} AGENT_CONFIG_DIR=/app/images/agents/${AGENT_TYPE}",
    );
    expect(agent.at(-1)).toBe('CMD ["worker"]');
  });

  it("installs production dependencies of the runtime workspace only", () => {
    const deps = stages.get("prod-deps")!.find((l) => l.startsWith("RUN"))!;
    expect(deps).toContain("npm ci --omit=dev --workspace agent-runtime --ignore-scripts");
  });

  it("copies from the context only what the ignore-file sends", () => {
    const sources = [...stages.values()]
      .flat()
      .filter((l) => l.startsWith("COPY ") && !l.includes("--from="))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      const covered = BUILD_CONTEXT.include.some((inc) =>
        inc.endsWith("/") ? source.startsWith(inc) : source === inc,
      );
      expect(covered, `${source} is outside BUILD_CONTEXT.include`).toBe(true);
    }
  });

  it("Dockerfile.dockerignore is the allowlist BUILD_CONTEXT describes", () => {
    const lines = readFileSync(join(ROOT, `${DOCKERFILE}.dockerignore`), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    expect(lines).toEqual(dockerignorePatterns());
  });

  it("every agent has the files the image copies", () => {
    for (const agent of AGENT_TYPES) {
      for (const file of ["agent.json", "system-prompt.md"]) {
        expect(
          () => readFileSync(join(ROOT, "images", "agents", agent, file)),
          `${agent}/${file}`,
        ).not.toThrow();
      }
    }
  });
});

// ---------------------------------------------------------------- pure helpers

describe("build context hash and release tags", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function fixture(): string {
    const root = mkdtempSync(join(tmpdir(), "agent-images-"));
    dirs.push(root);
    const files: Record<string, string> = {
      [DOCKERFILE]: "FROM scratch\n",
      "package.json": "{}",
      "package-lock.json": "{}",
      "tsconfig.base.json": "{}",
      "policy/package.json": "{}",
      "agent-runtime/src/index.ts": "export {};\n",
      "agent-runtime/node_modules/dep/index.js": "1",
      "agent-runtime/dist/index.js": "1",
      "images/agents/python/agent.json": "{}",
      "infra/program/deploy.ts": "// not in the context\n",
    };
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, file)), { recursive: true });
      writeFileSync(join(root, file), content);
    }
    return root;
  }

  it("changes with what the Dockerfile sees, and only with that", () => {
    const root = fixture();
    const before = buildContextHash(root);
    expect(buildContextHash(root)).toBe(before);
    for (const outside of [
      "infra/program/deploy.ts",
      "agent-runtime/node_modules/dep/index.js",
      "agent-runtime/dist/index.js",
    ]) {
      writeFileSync(join(root, outside), "changed");
      expect(buildContextHash(root), outside).toBe(before);
    }
    for (const inside of [
      "agent-runtime/src/index.ts",
      "images/agents/python/agent.json",
      "package-lock.json",
      DOCKERFILE,
    ]) {
      const previous = buildContextHash(root);
      writeFileSync(join(root, inside), `changed ${inside}`);
      expect(buildContextHash(root), inside).not.toBe(previous);
    }
    const previous = buildContextHash(root);
    chmodSync(join(root, "agent-runtime/src/index.ts"), 0o755);
    expect(buildContextHash(root)).not.toBe(previous);
  });

  it("finds the repository root from a nested folder", () => {
    expect(findRepositoryRoot(join(ROOT, "infra", "components"))).toBe(ROOT);
    expect(findRepositoryRoot(tmpdir())).toBeUndefined();
  });

  it("tags are <tag>-<12 hex>, distinct per image, platform set and registry; never the password", () => {
    const hash = "a".repeat(64);
    const tag = releaseTag("prod", hash, "python", ["linux/amd64"], AR);
    expect(tag).toMatch(/^prod-[a-f0-9]{12}$/);
    expect(releaseTag("prod", hash, "python", ["linux/amd64"], AR)).toBe(tag);
    expect(releaseTag("prod", hash, "backend", ["linux/amd64"], AR)).not.toBe(tag);
    expect(releaseTag("prod", hash, "python", ["linux/amd64", "linux/arm64"], AR)).not.toBe(tag);
    expect(releaseTag("prod", hash, "python", ["linux/arm64", "linux/amd64"], AR)).toBe(
      releaseTag("prod", hash, "python", ["linux/amd64", "linux/arm64"], AR),
    );
    expect(releaseTag("prod", "b".repeat(64), "python", ["linux/amd64"], AR)).not.toBe(tag);
    const external = (password: string): RegistrySpec => ({
      kind: "external",
      server: "ghcr.io",
      repository: "ghcr.io/a",
      username: "u",
      password,
    });
    expect(releaseTag("t", hash, "router", [], external("one"))).toBe(
      releaseTag("t", hash, "router", [], external("two")),
    );
  });

  it("targets and build args", () => {
    expect(imageBuildSpec("python")).toEqual({ target: "agent", buildArgs: { AGENT_TYPE: "python" } });
    expect(imageBuildSpec("router")).toEqual({ target: "router", buildArgs: {} });
  });

  it("validation names every problem", () => {
    expect(() =>
      validateAgentImagesArgs(
        "images",
        {
          agents: ["python", "python", "cobol" as "python"],
          registry: AR,
          platforms: [],
          tag: "-bad tag",
          context: "/nowhere",
        },
        undefined,
      ),
    ).toThrow(
      `AgentImages "images": agents[2]: "cobol" is not an agent type (allowed: ${AGENT_TYPES.join(", ")}); agents: an agent is listed twice; platforms: list at least one platform; tag: "-bad tag" is not a Docker tag (letters, digits, '_', '.', '-'; at most 115 characters); context: /nowhere is not an agent-fleet source checkout (the build needs images/Dockerfile, package.json, package-lock.json, tsconfig.base.json, policy/package.json, agent-runtime/, images/agents/); pass args.context = a checkout of agent-fleet at this package's version, or deploy prebuilt images by digest instead (stack config images.source: prebuilt)`,
    );
  });
});

// ---------------------------------------------------------------- AgentImages under mocks

describe("AgentImages", () => {
  it("builds the 12 agents and the router: target, build args, platforms, push, cache, tags", async () => {
    const platforms = ["linux/amd64", "linux/arm64"] as const;
    const { mocks, result } = await build({ registry: AR, platforms: [...platforms], tag: "prod" });
    const builds = ofType(mocks, IMAGE_TYPE);
    expect(builds.map((b) => b.name).sort()).toEqual(IMAGE_NAMES.map((i) => `images-${i}`).sort());
    const contextHash = buildContextHash(ROOT);

    for (const image of IMAGE_NAMES) {
      const b = builds.find((r) => r.name === `images-${image}`)!;
      const repo = `${AR_PATH}/${imageRepositoryName(image)}`;
      const release = releaseTag("prod", contextHash, image, platforms, AR);
      expect(release.slice("prod-".length)).toMatch(HEX12);
      expect(b.inputs.context).toEqual({ location: "." });
      expect(b.inputs.dockerfile).toEqual({ location: "images/Dockerfile" });
      expect(b.inputs.target).toBe(image === "router" ? "router" : "agent");
      expect(b.inputs.buildArgs).toEqual(image === "router" ? undefined : { AGENT_TYPE: image });
      expect(b.inputs.platforms).toEqual(["linux/amd64", "linux/arm64"]);
      expect(b.inputs.push).toBe(true);
      expect(b.inputs.tags).toEqual([`${repo}:${release}`, `${repo}:prod`]);
      expect(b.inputs.labels).toEqual({ "org.opencontainers.image.title": imageRepositoryName(image) });
      expect(b.inputs.cacheFrom).toEqual([{ registry: { ref: `${repo}:buildcache` } }]);
      expect(b.inputs.cacheTo).toEqual([
        {
          registry: {
            ref: `${repo}:buildcache`,
            mode: "max",
            imageManifest: true,
            ociMediaTypes: true,
            ignoreError: true,
          },
        },
      ]);
      expect(b.inputs.registries).toEqual([
        {
          address: "europe-west4-docker.pkg.dev",
          username: "oauth2accesstoken",
          password: "mock-gcp-access-token",
        },
      ]);
      expect(b.secretKeys).toEqual(["registries"]);
      expect(b.inputs.buildOnPreview).toBe(true); // docker-build's default: previews build too
      // Pods follow the digest: <repository>@sha256:<digest of this build>.
      expect(result.refs[image]).toBe(`${repo}@sha256:${fakeValue("digest", `images-${image}`)}`);
      expect(result.images.releaseTags[image]).toBe(release);
    }
    expect(result.images.pullCredentials).toBeUndefined();
    expect(Object.keys(result.refs).sort()).toEqual([...IMAGE_NAMES].sort());
  });

  it("ECR: immutable tags, so only the release tag is pushed", async () => {
    const ecr: RegistrySpec = { kind: "ecr", region: "eu-west-1", repositoryPrefix: "agent-fleet" };
    const { mocks, result } = await build({
      registry: ecr,
      agents: ["python"],
      tag: "v1",
      platforms: ["linux/amd64"],
    });
    const builds = ofType(mocks, IMAGE_TYPE);
    expect(builds.map((b) => b.name).sort()).toEqual(["images-python", "images-router"]);
    const repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent-fleet/agent-python";
    const python = builds.find((b) => b.name === "images-python")!;
    expect(python.inputs.tags).toEqual([
      `${repo}:${releaseTag("v1", buildContextHash(ROOT), "python", ["linux/amd64"], ecr)}`,
    ]);
    expect(python.inputs.platforms).toEqual(["linux/amd64"]);
    expect(python.inputs.registries).toEqual([
      {
        address: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        username: "AWS",
        password: "mock-ecr-token",
      },
    ]);
    expect(result.refs.python).toBe(`${repo}@sha256:${fakeValue("digest", "images-python")}`);
    expect(result.refs.backend).toBeUndefined();
  });

  it("external registry: pull credentials for the fleet's imagePullSecret, build on preview off", async () => {
    const { mocks, result } = await underMocks(async () => {
      const images = new AgentImages("images", {
        registry: {
          kind: "external",
          server: "ghcr.io",
          repository: "ghcr.io/agent-fleet",
          username: "agent-fleet-ci",
          password: pulumi.secret("s3cret"),
        },
        agents: ["frontend"],
        tag: "staging",
        platforms: ["linux/amd64"],
        buildOnPreview: false,
      });
      const pull = images.pullCredentials!;
      return {
        server: await promiseOf(pulumi.output(pull.server)),
        password: await promiseOf(pulumi.output(pull.password)),
        secret: await pulumi.isSecret(pulumi.output(pull.password)),
        router: await promiseOf(pulumi.output(images.refs.router)),
      };
    });
    expect(result).toEqual({
      server: "ghcr.io",
      password: "s3cret",
      secret: true,
      router: `ghcr.io/agent-fleet/router@sha256:${fakeValue("digest", "images-router")}`,
    });
    const builds = ofType(mocks, IMAGE_TYPE);
    expect(builds.map((b) => b.name).sort()).toEqual(["images-frontend", "images-router"]);
    for (const b of builds) {
      expect(b.inputs.buildOnPreview).toBe(false);
      expect(b.inputs.registries).toEqual([
        { address: "ghcr.io", username: "agent-fleet-ci", password: "s3cret" },
      ]);
      expect(b.secretKeys).toEqual(["registries"]);
      expect((b.inputs.tags as string[])[1]).toMatch(
        /^ghcr\.io\/agent-fleet\/(agent-frontend|router):staging$/,
      );
    }
  });
});

// ---------------------------------------------------------------- prebuilt images

describe("prebuiltImages", () => {
  it("references <repository>/agent-<type>:<tag>[@digest] and the router", () => {
    const digest = `sha256:${"c".repeat(64)}`;
    const set = prebuiltImages(
      { repository: "ghcr.io/agent-fleet", tag: "0.1.0", digests: { python: digest, router: digest } },
      ["python", "frontend"],
    );
    expect(set.refs).toEqual({
      router: `ghcr.io/agent-fleet/router:0.1.0@${digest}`,
      python: `ghcr.io/agent-fleet/agent-python:0.1.0@${digest}`,
      frontend: "ghcr.io/agent-fleet/agent-frontend:0.1.0",
    });
    expect(set.pullCredentials).toBeUndefined();
    expect(Object.keys(prebuiltImages({ repository: "r", tag: "t" }).refs)).toHaveLength(13);
    expect(toFleetImages(set.refs)).toEqual({
      router: `ghcr.io/agent-fleet/router:0.1.0@${digest}`,
      agents: {
        python: `ghcr.io/agent-fleet/agent-python:0.1.0@${digest}`,
        frontend: "ghcr.io/agent-fleet/agent-frontend:0.1.0",
      },
    });
  });
});
