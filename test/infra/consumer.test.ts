import { execFileSync } from "node:child_process";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { reviewFleet } from "../../examples/consumer/fleet";
import { installMocks, promiseOf, type RecordingMocks } from "../../infra/render/mocks";

const ROOT = join(__dirname, "..", "..");
const TSC = join(ROOT, "node_modules", ".bin", "tsc");

describe("examples/consumer: another Pulumi project importing agent-fleet as a package", () => {
  let mocks: RecordingMocks;
  let outputs: { namespace: string; workloads: Record<string, string> };

  beforeAll(async () => {
    // Compile the library exactly as package.json "main"/"types" publish it, then typecheck the
    // consumer against the emitted declarations.
    execFileSync(TSC, ["-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "pipe" });
    execFileSync(TSC, ["-p", join(ROOT, "examples/consumer/tsconfig.json")], { cwd: ROOT, stdio: "pipe" });
    mocks = await installMocks("example");
    const { fleet } = reviewFleet({ imageDigest: `sha256:${"e".repeat(64)}` });
    outputs = { namespace: await promiseOf(fleet.namespace), workloads: fleet.workloads };
    await pulumi.runtime.disconnect();
  }, 120_000);

  it("deploys a 3-agent fleet with its own settings", () => {
    expect(outputs.namespace).toBe("review-bots");
    expect(outputs.workloads).toEqual({
      reviewer: "agent-reviewer",
      security: "agent-security",
      tester: "agent-tester",
    });
    const hpas = mocks.resources.filter(
      (r) => r.type === "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    );
    expect(hpas.map((h) => h.inputs.spec as { minReplicas: number; maxReplicas: number })).toEqual([
      expect.objectContaining({ minReplicas: 2, maxReplicas: 6 }),
      expect.objectContaining({ minReplicas: 1, maxReplicas: 2 }),
      expect.objectContaining({ minReplicas: 1, maxReplicas: 4 }),
    ]);
    const reviewerHpa = hpas[0]?.inputs.spec as { behavior: { scaleUp: { policies: unknown[] } } };
    expect(reviewerHpa.behavior.scaleUp.policies).toEqual([
      { type: "Percent", value: 100, periodSeconds: 30 },
    ]);
  });

  it("uses the consumer's images and resources", () => {
    const deployments = mocks.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment");
    const security = deployments.find(
      (d) => (d.inputs.metadata as { name: string }).name === "agent-security",
    );
    const container = (
      security?.inputs.spec as { template: { spec: { containers: { image: string; resources: unknown }[] } } }
    ).template.spec.containers[0];
    expect(container?.image).toBe(`ghcr.io/agent-fleet/agent-security:0.1.0@sha256:${"e".repeat(64)}`);
    expect(container?.resources).toEqual({
      requests: { cpu: "500m", memory: "2Gi" },
      limits: { cpu: "2", memory: "4Gi" },
    });
    const types = new Set(mocks.resources.map((r) => r.type));
    expect(types).toContain("agent-fleet:k8s:AgentFleet");
    expect(types).toContain("agent-fleet:cluster:ExistingCluster");
  });

  it("keeps the consumer's API key a secret", () => {
    const secret = mocks.resources.find(
      (r) =>
        r.type === "kubernetes:core/v1:Secret" &&
        (r.inputs.metadata as { name: string }).name === "llm-api-keys",
    );
    expect(secret?.secretKeys).toContain("stringData");
    expect(secret?.redacted.stringData).toBe("[secret]");
  });
});
