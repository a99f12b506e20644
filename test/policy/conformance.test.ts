/**
 * The pack against what the program really renders: the dev stack, evaluated offline under Pulumi
 * mocks (infra/render), must pass every policy. staging and prod need their cluster backends
 * (GKE, Hetzner) to render; see policy/README.md for what they are expected to report.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { renderStack, type RenderResult } from "../../infra/render/render";
import { agentFleetPolicies } from "../../policy/src/pack";
import { WORKLOAD_KINDS } from "../../policy/src/lib/workloads";
import {
  isResourcePolicy,
  isStackPolicy,
  k8sOutputs,
  runResourcePolicy,
  runStackPolicy,
} from "./support/harness";

let dev: RenderResult;

beforeAll(async () => {
  dev = await renderStack(join(__dirname, "../../Pulumi.dev.yaml"));
}, 60_000);

describe("the dev stack as agent-fleet renders it", () => {
  it("renders the 12 agents' workloads", () => {
    const workloads = dev.objects.filter((o) => (WORKLOAD_KINDS as readonly string[]).includes(o.kind));
    expect(workloads.length).toBeGreaterThanOrEqual(12);
  });

  it("passes every resource policy", async () => {
    const violations: string[] = [];
    const kubernetes = dev.resources.filter((r) => r.type.startsWith("kubernetes:"));
    for (const policy of agentFleetPolicies().filter(isResourcePolicy)) {
      for (const r of kubernetes) {
        const outcome = await runResourcePolicy(policy, { type: r.type, name: r.name, props: r.inputs });
        violations.push(...outcome.violations.map((v) => `[${policy.name}] ${v}`));
      }
    }
    expect(violations).toEqual([]);
  });

  it("passes every stack policy", async () => {
    const stack = dev.resources.map((r) => ({
      type: r.type,
      name: r.name,
      props: r.inputs,
      outputs: r.type.startsWith("kubernetes:") ? k8sOutputs(r.inputs) : r.inputs,
    }));
    for (const policy of agentFleetPolicies().filter(isStackPolicy)) {
      expect((await runStackPolicy(policy, stack)).violations, policy.name).toEqual([]);
    }
  });
});
