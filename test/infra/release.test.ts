/**
 * The deploy pipeline's image steps (infra/release): the bake file builds what AgentImages builds,
 * and promotion pins a stack to a bake run's digests — every image, one registry, nothing else of
 * the stack file changed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { standInStackFile } from "../support/stand-ins";
import { AGENT_TYPES } from "../../infra/catalog";
import { buildContextHash, imageBuildSpec, releaseTag } from "../../infra/components/images/agent-images";
import {
  bakeDefinition,
  bakeTargetName,
  imagesFromMetadata,
  promoteStackText,
  type BuiltImages,
} from "../../infra/release/bake";

const ROOT = join(__dirname, "..", "..");
const registry = {
  kind: "external",
  server: "ghcr.io",
  repository: "ghcr.io/acme",
  username: "ci",
  password: "",
} as const;
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}`;

function metadata(repository: string, canary?: string): Record<string, unknown> {
  const names = [...AGENT_TYPES.map((a) => `agent-${a}`), "router"];
  const entries: [string, unknown][] = names.map((name, i) => [
    name,
    {
      "containerimage.digest": digest(i + 1),
      "image.name": `${repository}/${name}:staging-abc123def456,${repository}/${name}:staging`,
      "buildx.build.ref": "builder/builder0/xyz",
    },
  ]);
  if (canary) {
    entries.push([
      `agent-${canary}-canary`,
      { "containerimage.digest": digest(99), "image.name": `${repository}/agent-${canary}:staging-fff` },
    ]);
  }
  return Object.fromEntries(entries);
}

describe("bakeDefinition", () => {
  const bake = bakeDefinition({
    root: ROOT,
    repository: "ghcr.io/acme",
    registry,
    tag: "staging",
    platforms: ["linux/amd64", "linux/arm64"],
    canary: "python",
    immutableTags: false,
  });

  it("has the 12 agents, the router and the canary, each as AgentImages builds it", () => {
    expect(bake.group.default.targets).toEqual([
      ...AGENT_TYPES.map((a) => `agent-${a}`),
      "router",
      "agent-python-canary",
    ]);
    const hash = buildContextHash(ROOT);
    const python = bake.target["agent-python"];
    expect(python).toEqual({
      context: ".",
      dockerfile: "images/Dockerfile",
      target: "agent",
      args: imageBuildSpec("python").buildArgs,
      platforms: ["linux/amd64", "linux/arm64"],
      tags: [
        `ghcr.io/acme/agent-python:${releaseTag("staging", hash, "python", ["linux/amd64", "linux/arm64"], registry)}`,
        "ghcr.io/acme/agent-python:staging",
      ],
      labels: { "org.opencontainers.image.title": "agent-python" },
      "cache-from": ["type=registry,ref=ghcr.io/acme/agent-python:buildcache"],
      "cache-to": [
        "type=registry,ref=ghcr.io/acme/agent-python:buildcache,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true",
      ],
    });
    expect(bake.target.router?.target).toBe("router");
    expect(bake.target.router?.args).toBeUndefined();
    expect(bake.target["agent-python-canary"]?.args).toEqual({ AGENT_TYPE: "python", AGENT_TRACK: "canary" });
    expect(bake.target["agent-python-canary"]?.tags).toHaveLength(1); // the release tag only
  });
});

describe("imagesFromMetadata", () => {
  it("reads every image's digest and the registry path", () => {
    const built = imagesFromMetadata(metadata("ghcr.io/acme", "python"), "images.json");
    expect(built.repository).toBe("ghcr.io/acme");
    expect(built.digests.python).toBe(digest(1));
    expect(built.digests.router).toBe(digest(13));
    expect(built.canary).toEqual({ agent: "python", image: `ghcr.io/acme/agent-python@${digest(99)}` });
  });

  it("refuses a record with an image missing or a bad digest, naming each problem", () => {
    const broken = metadata("ghcr.io/acme");
    delete broken["agent-ml"];
    (broken["router"] as Record<string, unknown>)["containerimage.digest"] = "sha256:nope";
    expect(() => imagesFromMetadata(broken, "images.json")).toThrow(
      'images.json: not a "docker buildx bake --metadata-file" record: router.containerimage.digest: expected sha256:<64 hex>',
    );
    delete broken["router"];
    expect(() => imagesFromMetadata(broken, "images.json")).toThrow(
      'images.json: no target "agent-ml"; no target "router"',
    );
  });
});

describe("promoteStackText", () => {
  const file = "Pulumi.staging.yaml";
  const text = readFileSync(join(ROOT, file), "utf8");
  const built: BuiltImages = imagesFromMetadata(metadata("ghcr.io/agent-fleet", "python"), "images.json");

  it("pins the stack's images to the build's digests and changes nothing else", () => {
    const before = parse(text) as { config: Record<string, unknown> };
    const after = parse(promoteStackText(text, file, built, "staging")) as {
      config: Record<string, unknown>;
    };
    expect(after.config["agent-fleet:images"]).toEqual({
      source: "prebuilt",
      requireDigests: true,
      repository: "ghcr.io/agent-fleet",
      tag: "staging",
      digests: built.digests,
      pull: { server: "ghcr.io", username: "agent-fleet-ci" },
    });
    const { "agent-fleet:images": _a, "agent-fleet:mesh": meshAfter, ...restAfter } = after.config;
    const { "agent-fleet:images": _b, "agent-fleet:mesh": meshBefore, ...restBefore } = before.config;
    expect(restAfter).toEqual(restBefore);
    const canaryAgent = (meshBefore as { istio?: { canary?: { agent?: string } } }).istio?.canary?.agent;
    if (canaryAgent === "python") {
      expect((meshAfter as { istio: { canary: { image: string } } }).istio.canary.image).toBe(
        built.canary?.image,
      );
    } else {
      expect(meshAfter).toEqual(meshBefore);
    }
  });
});

describe("promoteStackText with pull credentials given", () => {
  it("sets images.pull for a stack that did not push to that registry itself", () => {
    const text = readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8");
    const built = imagesFromMetadata(metadata("ghcr.io/agent-fleet"), "images.json");
    const after = parse(
      promoteStackText(text, "Pulumi.prod.yaml", built, "v1", { server: "ghcr.io", username: "bot" }),
    ) as { config: Record<string, { pull?: unknown; source?: unknown }> };
    expect(after.config["agent-fleet:images"]).toMatchObject({
      source: "prebuilt",
      tag: "v1",
      pull: { server: "ghcr.io", username: "bot" },
    });
  });
});

describe("bake target names", () => {
  it("are the repository names, -canary for a canary", () => {
    expect(bakeTargetName("router")).toBe("router");
    expect(bakeTargetName("ml", "canary")).toBe("agent-ml-canary");
  });
});

/**
 * Each case spawns the command through tsx (several seconds apiece on a loaded machine): a limit
 * against a hang, not a measure of speed.
 */
const CLI_TIMEOUT_MS = 600_000;

describe("the images:bake and images:promote commands", () => {
  const TSX = join(ROOT, "node_modules", ".bin", "tsx");
  const run = (script: string, args: string[]) => {
    const result = spawnSync(TSX, [join(ROOT, "infra", "release", script), ...args], {
      cwd: ROOT,
      encoding: "utf8",
    });
    return { code: result.status, out: `${result.stdout}${result.stderr}` };
  };
  let work: string;
  let stackDir: string;
  let refuseDir: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "agent-fleet-release-"));
    stackDir = dirname(standInStackFile(join(ROOT, "Pulumi.staging.yaml")));
    refuseDir = dirname(standInStackFile(join(ROOT, "Pulumi.staging.yaml")));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(stackDir, { recursive: true, force: true });
    rmSync(refuseDir, { recursive: true, force: true });
  });

  it(
    "bake writes the bake file; promote pins the stack to the build's digests",
    () => {
      const bakeFile = join(work, "bake.json");
      const baked = run("bake-cli.ts", ["--stack", "staging", "--dir", stackDir, "--out", bakeFile]);
      expect(baked.out).toContain("images (agent-python, agent-frontend");
      expect(baked.code).toBe(0);
      const bake = JSON.parse(readFileSync(bakeFile, "utf8")) as {
        target: Record<string, { tags: string[] }>;
      };
      // What `docker buildx bake --metadata-file` records: each target's digest and tags.
      const record = Object.fromEntries(
        Object.entries(bake.target).map(([name, t], i) => [
          name,
          { "containerimage.digest": digest(i + 1), "image.name": t.tags.join(",") },
        ]),
      );
      const metadataFile = join(work, "images.json");
      writeFileSync(metadataFile, JSON.stringify(record));
      const promoted = run("promote-cli.ts", [
        "--stack",
        "staging",
        "--dir",
        stackDir,
        "--metadata",
        metadataFile,
      ]);
      expect(promoted.out).toContain(
        "now runs 13 images by digest from images.json (ghcr.io/agent-fleet, tag staging)",
      );
      expect(promoted.code).toBe(0);
      const config = (
        parse(readFileSync(join(stackDir, "Pulumi.staging.yaml"), "utf8")) as {
          config: Record<string, unknown>;
        }
      ).config;
      expect(config["agent-fleet:images"]).toMatchObject({ source: "prebuilt", requireDigests: true });
    },
    CLI_TIMEOUT_MS,
  );

  it(
    "refuses what it must not do, with the reason and nothing written",
    () => {
      const stackPath = join(refuseDir, "Pulumi.staging.yaml");
      const before = readFileSync(stackPath, "utf8");
      const notOurs = join(work, "notes.txt");
      writeFileSync(notOurs, "mine");
      const cases: [string, string[], number, string][] = [
        ["bake-cli.ts", ["--stack", "dev", "--out", join(work, "x.json")], 1, 'images.source is "prebuilt"'],
        [
          "bake-cli.ts",
          ["--stack", "staging", "--dir", refuseDir, "--out", notOurs],
          1,
          "is not a bake file",
        ],
        ["bake-cli.ts", ["--stack", "staging", "--dir", refuseDir], 2, "--out is required"],
        ["bake-cli.ts", ["--stack", "staging", "--outt", "x"], 2, "Unknown option '--outt'"],
        [
          "promote-cli.ts",
          ["--stack", "staging", "--dir", refuseDir, "--metadata", notOurs],
          1,
          "notes.txt: not JSON",
        ],
        [
          "promote-cli.ts",
          ["--stack", "staging", "--dir", refuseDir, "--metadata", join(work, "none.json")],
          1,
          "ENOENT",
        ],
        ["promote-cli.ts", ["--stack", "staging", "--dir", refuseDir], 2, "--metadata is required"],
      ];
      for (const [script, args, code, message] of cases) {
        const result = run(script, args);
        expect(result.out, args.join(" ")).toContain(message);
        expect(result.out).not.toMatch(/\n\s+at /);
        expect(result.code, args.join(" ")).toBe(code);
      }
      writeFileSync(join(work, "partial.json"), JSON.stringify({ router: {} }));
      const partial = run("promote-cli.ts", [
        "--stack",
        "staging",
        "--dir",
        refuseDir,
        "--metadata",
        join(work, "partial.json"),
      ]);
      expect(partial.code).toBe(1);
      expect(partial.out).toContain('partial.json: not a "docker buildx bake --metadata-file" record');
      expect(readFileSync(stackPath, "utf8")).toBe(before);
      expect(readFileSync(notOurs, "utf8")).toBe("mine");
    },
    CLI_TIMEOUT_MS,
  );
});
