/**
 * The policy pack over the e2e stack, as `pulumi preview --policy-pack policy` would run it:
 * resource policies on each Kubernetes resource's inputs, stack policies on the resources' outputs,
 * where a Kubernetes resource's outputs are what the API server returned for it in the preview
 * (its dry-run of the object, server defaults included) plus the inputs under `__inputs`.
 */
import type { RenderResult } from "../../../infra/render/render";
import { agentFleetPolicies } from "../../../policy/src/pack";
import {
  isResourcePolicy,
  isStackPolicy,
  runResourcePolicy,
  runStackPolicy,
} from "../../policy/support/harness";
import { liveRef, refOf, type LiveObject } from "./kubectl";

const K8S_KIND = /^kubernetes:[\w.-]+\/v\w+:(\w+)$/;

/** The API server's object for a recorded resource, matched by kind, namespace and name. */
function liveFor(type: string, inputs: Record<string, unknown>, live: Map<string, LiveObject>) {
  const kind = K8S_KIND.exec(type)?.[1];
  const meta = inputs.metadata as { name?: unknown; namespace?: unknown } | undefined;
  if (!kind || typeof meta?.name !== "string") return undefined;
  const namespace = typeof meta.namespace === "string" ? meta.namespace : undefined;
  return live.get(refOf({ kind, namespace, name: meta.name }));
}

export interface PackOutcome {
  /** Every violation the pack reported, as "[policy] message". */
  violations: string[];
  /** Policy evaluations run: resource policies × Kubernetes resources + stack policies. */
  evaluations: number;
}

export async function runPolicyPack(
  result: RenderResult,
  liveObjects: readonly LiveObject[],
): Promise<PackOutcome> {
  const live = new Map(liveObjects.map((o) => [liveRef(o), o]));
  const policies = agentFleetPolicies();
  const violations: string[] = [];
  let evaluations = 0;
  const kubernetes = result.resources.filter((r) => r.type.startsWith("kubernetes:"));
  for (const policy of policies.filter(isResourcePolicy)) {
    for (const r of kubernetes) {
      const outcome = await runResourcePolicy(policy, { type: r.type, name: r.name, props: r.inputs });
      evaluations++;
      violations.push(...outcome.violations.map((v) => `[${policy.name}] ${r.name}: ${v}`));
    }
  }
  const stack = result.resources.map((r) => {
    const server = r.type.startsWith("kubernetes:") ? liveFor(r.type, r.inputs, live) : undefined;
    return {
      type: r.type,
      name: r.name,
      props: r.inputs,
      outputs: server ? { ...server, __inputs: r.inputs } : r.inputs,
    };
  });
  for (const policy of policies.filter(isStackPolicy)) {
    const outcome = await runStackPolicy(policy, stack);
    evaluations++;
    violations.push(...outcome.violations.map((v) => `[${policy.name}] ${v.message}`));
  }
  return { violations, evaluations };
}
