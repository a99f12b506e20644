import * as k8s from "@pulumi/kubernetes";
import type { Unwrap } from "@pulumi/pulumi";
import type { EnforcementLevel, PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { DEFAULT_NAMESPACE, namespacedRef } from "../lib/refs";
import { declaredValue, metadataOf, stackWorkloads } from "../lib/stack";

type HpaArgs = Unwrap<k8s.autoscaling.v2.HorizontalPodAutoscalerArgs>;

function isHpa(resource: PolicyResource): boolean {
  return (
    resource.isType(k8s.autoscaling.v2.HorizontalPodAutoscaler) ||
    resource.isType(k8s.autoscaling.v1.HorizontalPodAutoscaler)
  );
}

const key = (kind: string, namespace: string, name: string) => `${kind}\u0000${namespace}\u0000${name}`;

/** A workload an HPA scales declares no `spec.replicas`. */
export function hpaTargetWithoutReplicas(level: EnforcementLevel = "mandatory"): StackValidationPolicy {
  return {
    name: "hpa-target-without-replicas",
    description:
      "A Deployment or StatefulSet that a HorizontalPodAutoscaler of the stack scales (scaleTargetRef kind/name, same namespace) does not set spec.replicas.",
    enforcementLevel: level,
    severity: "medium",
    validateStack: (args, report) => {
      // The HPA's target, by kind/namespace/name, and the HPA that scales it.
      const scaledBy = new Map<string, string>();
      for (const resource of args.resources) {
        if (!isHpa(resource)) continue;
        const hpa = resource.props as HpaArgs;
        const metadata = metadataOf(resource);
        const namespace = metadata.namespace ?? DEFAULT_NAMESPACE;
        const target = hpa.spec?.scaleTargetRef;
        if (target === undefined) continue;
        scaledBy.set(
          key(target.kind, namespace, target.name),
          namespacedRef("HorizontalPodAutoscaler", { ...metadata, namespace }, resource.name),
        );
      }
      if (scaledBy.size === 0) return args.notApplicable("The stack has no HorizontalPodAutoscalers");

      for (const workload of stackWorkloads(args.resources)) {
        const hpa = scaledBy.get(key(workload.kind, workload.namespace, workload.name));
        if (hpa === undefined) continue;
        // What the program asked for, not the live count: the API server defaults spec.replicas
        // and the HPA rewrites it, neither of which is the program's doing.
        const declared = declaredValue(workload.resource, ["spec", "replicas"]);
        if (declared === undefined) continue;
        const replicas = JSON.stringify(declared);
        report(
          `${workload.ref}: sets spec.replicas (${replicas}) but ${hpa} scales it. Each \`pulumi up\` would reset the replica count to ${replicas}, undoing the HPA's scaling (a rollout under load drops pods, then the HPA scales them back). Remove spec.replicas from the workload while the HPA manages it.`,
          workload.resource.urn,
        );
      }
    },
  };
}
