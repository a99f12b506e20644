import * as k8s from "@pulumi/kubernetes";
import { validateResourceOfType, type EnforcementLevel, type ResourceValidationPolicy } from "@pulumi/policy";
import { NFS_NAMESPACE, THIRD_PARTY_NAMESPACES } from "../lib/exemptions";
import { clusterRef, exemptSchema, skipIfExempt } from "../lib/refs";

const ENFORCE_LABEL = "pod-security.kubernetes.io/enforce";

/** Namespaces the stack creates enforce the `restricted` Pod Security Standard. */
export function namespacePodSecurity(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  const exempt = [NFS_NAMESPACE, ...THIRD_PARTY_NAMESPACES];
  return {
    name: "namespace-pod-security-restricted",
    description: `Namespaces the stack creates carry the label ${ENFORCE_LABEL}: restricted.`,
    enforcementLevel: level,
    severity: "high",
    configSchema: exemptSchema(exempt),
    validateResource: validateResourceOfType(k8s.core.v1.Namespace, (namespace, args, report) => {
      const ref = clusterRef("Namespace", namespace.metadata, args.name);
      skipIfExempt(args, ref, exempt);
      const enforce = namespace.metadata?.labels?.[ENFORCE_LABEL];
      const found =
        enforce === undefined ? "has no label" : `has the label ${ENFORCE_LABEL}: ${enforce}, not`;
      if (enforce !== "restricted") {
        report(
          `${ref}: ${found} ${ENFORCE_LABEL}: restricted. The API server's Pod Security admission is the last check on pods that reach the cluster outside this stack (kubectl, Helm, operators); without it they may run privileged or as root. Add the label ${ENFORCE_LABEL}: restricted.`,
        );
      }
    }),
  };
}
