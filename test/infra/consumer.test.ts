/**
 * examples/consumer as another Pulumi project really uses agent-fleet: the library is built and
 * packed with `npm pack`, the tarball is installed with `npm install` into a copy of the example
 * (no path into this source tree), the copy typechecks against the installed declarations, and its
 * program runs under Pulumi mocks set on the consumer's own @pulumi/pulumi. agent-fleet takes the
 * SDKs as peer dependencies, so there is one copy of each: were there two, the library's resources
 * would register with a runtime the mocks (and in real use the engine) never see.
 * `npm install` extracts the peers too (@pulumi/aws and @pulumi/gcp are ~85 MB each): this is the
 * slowest infra test, about a minute on an idle machine.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const BIN = join(ROOT, "node_modules", ".bin");
const EXAMPLE = join(ROOT, "examples", "consumer");

interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

interface RunReport {
  namespace: string;
  workloads: Record<string, string>;
  resources: Recorded[];
  /** Where @pulumi/pulumi resolves from the consumer, and from inside the installed agent-fleet. */
  sdk: { consumer: string; library: string };
  fleetIsComponent: boolean;
  imagesError: string;
}

/**
 * Run inside the installed copy: mocks on the consumer's SDK, the example's fleet, and an
 * AgentImages without a build context (the package ships no image sources).
 */
const RUNNER = `
import * as pulumi from "@pulumi/pulumi";
const resources: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
const mocks = pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      resources.push({ type: args.type, name: args.name, inputs: args.inputs });
      const computed = args.type === "random:index/randomPassword:RandomPassword" ? { result: "mock-" + args.name } : {};
      return { id: args.name + "-id", state: { ...args.inputs, ...computed } };
    },
    call: (args) => {
      throw new Error("unmocked call " + args.token);
    },
  },
  "consumer",
  "example",
  false,
);

async function main() {
  await mocks;
  const { reviewFleet } = await import("./fleet");
  const { AgentImages } = await import("agent-fleet");
  const { fleet } = reviewFleet({ imageDigest: "sha256:" + "e".repeat(64) });
  const namespace = await new Promise<string>((resolve) => fleet.namespace.apply(resolve));
  let imagesError = "";
  try {
    new AgentImages("images", { registry: { kind: "external", server: "ghcr.io", repository: "ghcr.io/x" }, tag: "t", platforms: ["linux/amd64"] } as never);
  } catch (error) {
    imagesError = error instanceof Error ? error.message : String(error);
  }
  await pulumi.runtime.disconnect();
  const library = require.resolve("@pulumi/pulumi", { paths: [require.resolve("agent-fleet")] });
  process.stdout.write(JSON.stringify({
    namespace,
    workloads: fleet.workloads,
    resources,
    sdk: { consumer: require.resolve("@pulumi/pulumi"), library },
    // False when the library has an SDK copy of its own: its classes are not the consumer's.
    fleetIsComponent: fleet instanceof pulumi.ComponentResource,
    imagesError,
  }));
}
main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\\n");
  process.exit(1);
});
`;

describe("examples/consumer, installed from the packed tarball", () => {
  let dir: string;
  let report: RunReport;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "agent-fleet-consumer-"));
    const run = (file: string, args: string[], cwd: string) =>
      execFileSync(file, args, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
    // Build the library as package.json "main"/"types" publish it, and pack it as npm would publish it.
    run(join(BIN, "tsc"), ["-p", join(ROOT, "tsconfig.build.json")], ROOT);
    const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", dir], ROOT)) as {
      filename: string;
    }[];
    const tarball = join(dir, packed[0]?.filename ?? "");

    const project = join(dir, "consumer");
    cpSync(EXAMPLE, project, { recursive: true, filter: (src) => !src.includes("node_modules") });
    const pkg = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    pkg.dependencies["agent-fleet"] = `file:${tarball}`;
    writeFileSync(join(project, "package.json"), JSON.stringify(pkg, null, 2));
    // The example's tsconfig maps "agent-fleet" into this tree for the repository's own type check;
    // the installed copy resolves it from node_modules like any project.
    const base = JSON.parse(readFileSync(join(ROOT, "tsconfig.base.json"), "utf8")) as {
      compilerOptions: Record<string, unknown>;
    };
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { ...base.compilerOptions, noEmit: true },
        include: ["index.ts", "fleet.ts"],
      }),
    );
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], project);
    run(join(BIN, "tsc"), ["-p", join(project, "tsconfig.json")], project);
    writeFileSync(join(project, "mock-run.ts"), RUNNER);
    report = JSON.parse(run(join(BIN, "tsx"), ["mock-run.ts"], project)) as RunReport;
  }, 600_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("resolves one @pulumi/pulumi, the consumer's, from inside the library too", () => {
    expect(report.sdk.library).toBe(report.sdk.consumer);
    expect(report.fleetIsComponent).toBe(true);
    expect(report.sdk.consumer.startsWith(join(dir, "consumer", "node_modules", "@pulumi", "pulumi"))).toBe(
      true,
    );
  });

  it("deploys a 3-agent fleet with its own settings", () => {
    expect(report.namespace).toBe("review-bots");
    expect(report.workloads).toEqual({
      reviewer: "agent-reviewer",
      security: "agent-security",
      tester: "agent-tester",
    });
    const hpas = report.resources.filter(
      (r) => r.type === "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    );
    expect(hpas.map((h) => h.inputs.spec as { minReplicas: number; maxReplicas: number })).toEqual([
      expect.objectContaining({ minReplicas: 2, maxReplicas: 6 }),
      expect.objectContaining({ minReplicas: 1, maxReplicas: 2 }),
      expect.objectContaining({ minReplicas: 1, maxReplicas: 4 }),
    ]);
  });

  it("uses the consumer's images and resources, and keeps its API key a secret", () => {
    const security = report.resources.find(
      (r) =>
        r.type === "kubernetes:apps/v1:Deployment" &&
        (r.inputs.metadata as { name: string }).name === "agent-security",
    );
    const container = (
      security?.inputs.spec as { template: { spec: { containers: { image: string; resources: unknown }[] } } }
    ).template.spec.containers[0];
    expect(container?.image).toBe(`ghcr.io/agent-fleet/agent-security:0.1.0@sha256:${"e".repeat(64)}`);
    expect(container?.resources).toEqual({
      requests: { cpu: "500m", memory: "2Gi" },
      limits: { cpu: "2", memory: "4Gi" },
    });
    const types = new Set(report.resources.map((r) => r.type));
    expect(types).toContain("agent-fleet:k8s:AgentFleet");
    expect(types).toContain("agent-fleet:cluster:ExistingCluster");
    const secret = report.resources.find(
      (r) =>
        r.type === "kubernetes:core/v1:Secret" &&
        (r.inputs.metadata as { name: string }).name === "llm-api-keys",
    );
    expect(JSON.stringify(secret?.inputs.stringData)).toContain("4dabf18193072939515e22adb298388d");
  });

  it("AgentImages from the installed package asks for a source checkout or prebuilt images", () => {
    expect(report.imagesError).toContain(
      "is an agent-fleet source checkout (the build needs images/Dockerfile",
    );
    expect(report.imagesError).toContain("pass args.context = a checkout of agent-fleet");
    expect(report.imagesError).toContain("images.source: prebuilt");
  });
});
