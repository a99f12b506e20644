import * as k8s from "@pulumi/kubernetes";
import type { Unwrap } from "@pulumi/pulumi";
import type { EnforcementLevel, PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { DEFAULT_NAMESPACE, clusterRef, exemptPatterns, exemptSchema, matchingPattern } from "../lib/refs";
import { metadataOf, stackWorkloads } from "../lib/stack";

type NetworkPolicyArgs = Unwrap<k8s.networking.v1.NetworkPolicyArgs>;
type LabelSelector = Unwrap<k8s.types.input.meta.v1.LabelSelector>;

function selectsEveryPod(selector: LabelSelector | undefined): boolean {
  return (
    selector !== undefined &&
    Object.keys(selector.matchLabels ?? {}).length === 0 &&
    (selector.matchExpressions ?? []).length === 0
  );
}

/** podSelector {}, policyTypes Ingress and Egress, and no rules: nothing in, nothing out. */
export function isDefaultDeny(policy: NetworkPolicyArgs): boolean {
  const spec = policy.spec;
  if (spec === undefined || !selectsEveryPod(spec.podSelector)) return false;
  const types = spec.policyTypes ?? [];
  return (
    types.includes("Ingress") &&
    types.includes("Egress") &&
    (spec.ingress ?? []).length === 0 &&
    (spec.egress ?? []).length === 0
  );
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** Every namespace the stack runs workloads in has a default-deny NetworkPolicy from the same stack. */
export function defaultDenyNetworkPolicy(level: EnforcementLevel = "mandatory"): StackValidationPolicy {
  return {
    name: "namespace-default-deny-network-policy",
    description:
      "Each namespace the stack runs workloads in has a default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules) in the same stack.",
    enforcementLevel: level,
    severity: "high",
    configSchema: exemptSchema([]),
    validateStack: (args, report) => {
      const workloads = stackWorkloads(args.resources);
      if (workloads.length === 0) return args.notApplicable("The stack has no workloads");
      const exempt = exemptPatterns(args, []);

      const denied = new Set<string>();
      const namespaces = new Map<string, PolicyResource>();
      for (const resource of args.resources) {
        if (resource.isType(k8s.networking.v1.NetworkPolicy)) {
          // The live object: what the cluster enforces (the server defaults policyTypes).
          if (isDefaultDeny(resource.props as NetworkPolicyArgs)) {
            denied.add(metadataOf(resource).namespace ?? DEFAULT_NAMESPACE);
          }
        } else if (resource.isType(k8s.core.v1.Namespace)) {
          const name = metadataOf(resource).name;
          if (name !== undefined) namespaces.set(name, resource);
        }
      }

      const byNamespace = new Map<string, typeof workloads>();
      for (const w of workloads) byNamespace.set(w.namespace, [...(byNamespace.get(w.namespace) ?? []), w]);
      for (const [namespace, members] of [...byNamespace].sort(([a], [b]) => a.localeCompare(b))) {
        const ref = clusterRef("Namespace", { name: namespace }, namespace);
        if (denied.has(namespace) || matchingPattern(ref, exempt) !== undefined) continue;
        const [first] = members;
        if (first === undefined) continue;
        const more = members.length > 1 ? ` and ${plural(members.length - 1, "more workload")}` : "";
        report(
          `${ref}: runs ${first.ref}${more} but has no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress, Egress], no rules). Without one every pod in it accepts connections from, and can connect to, any pod in the cluster and the internet, so the fleet's allow-list policies restrict nothing. Add a NetworkPolicy like FleetNetworkPolicies' "default-deny" to the namespace.`,
          (namespaces.get(namespace) ?? first.resource).urn,
        );
      }
    },
  };
}
