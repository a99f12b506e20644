/**
 * The policy pack over the e2e stack, as `pulumi preview --policy-pack policy` would run it, with
 * each Kubernetes resource's outputs being what the API server returned for it in the preview (its
 * dry-run of the object, server defaults included) plus the inputs under `__inputs`, as the
 * Kubernetes provider records them.
 */
import type { RenderResult } from "../../../infra/render/render";
import { agentFleetPolicies } from "../../../policy/src/pack";
import { runPack, type PackOutcome } from "../../policy/support/harness";
import { liveRef, refOf, type LiveObject } from "./kubectl";

const K8S_KIND = /^kubernetes:[\w.-]+\/v\w+:(\w+)$/;

export function runPolicyPack(
  result: RenderResult,
  liveObjects: readonly LiveObject[],
): Promise<PackOutcome> {
  const live = new Map(liveObjects.map((o) => [liveRef(o), o]));
  return runPack(agentFleetPolicies(), result.resources, (r) => {
    const kind = K8S_KIND.exec(r.type)?.[1];
    const meta = r.inputs.metadata as { name?: unknown; namespace?: unknown } | undefined;
    const namespace = typeof meta?.namespace === "string" ? meta.namespace : undefined;
    const server =
      kind && typeof meta?.name === "string"
        ? live.get(refOf({ kind, namespace, name: meta.name }))
        : undefined;
    return server ? { ...server, __inputs: r.inputs } : r.inputs;
  });
}
