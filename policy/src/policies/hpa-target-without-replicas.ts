import * as k8s from "@pulumi/kubernetes";
import type { Unwrap } from "@pulumi/pulumi";
import type { EnforcementLevel, PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { DEFAULT_NAMESPACE, namespacedRef } from "../lib/refs";
import { declaredProps, metadataOf, stackWorkloads } from "../lib/stack";

type HpaArgs = Unwrap<k8s.autoscaling.v2.HorizontalPodAutoscalerArgs>;
type ScalableArgs = { spec?: { replicas?: number } };

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
        const hpa = declaredProps(resource) as HpaArgs;
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
        const replicas = (declaredProps(workload.resource) as ScalableArgs).spec?.replicas;
        if (replicas === undefined) continue;
        report(
          `${workload.ref}: sets spec.replicas (${replicas}) but ${hpa} scales it. Each \`pulumi up\` would reset the replica count to ${replicas}, undoing the HPA's scaling (a rollout under load drops pods, then the HPA scales them back). Remove spec.replicas from the workload while the HPA manages it.`,
          workload.resource.urn,
        );
      }
    },
  };
}
