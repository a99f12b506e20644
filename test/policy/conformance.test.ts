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
import { k8sOutputs, runPack, type PackOutcome } from "./support/harness";

let dev: RenderResult;
let pack: PackOutcome;

beforeAll(async () => {
  dev = await renderStack(join(__dirname, "../../Pulumi.dev.yaml"));
  pack = await runPack(agentFleetPolicies(), dev.resources, (r) => k8sOutputs(r.inputs));
}, 60_000);

describe("the dev stack as agent-fleet renders it", () => {
  it("renders the 12 agents' workloads", () => {
    const workloads = dev.objects.filter((o) => (WORKLOAD_KINDS as readonly string[]).includes(o.kind));
    expect(workloads.length).toBeGreaterThanOrEqual(12);
  });

  it("passes every resource policy", () => {
    expect(pack.evaluations).toBeGreaterThan(dev.objects.length);
    expect(pack.resourceViolations).toEqual([]);
  });

  it("passes every stack policy", () => {
    expect(pack.stackViolations).toEqual([]);
  });
});
