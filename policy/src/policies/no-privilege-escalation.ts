import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { NFS_SERVER } from "../lib/exemptions";
import { exemptSchema } from "../lib/refs";
import { containersOf, validateWorkloads } from "../lib/workloads";

/** Containers set `allowPrivilegeEscalation: false`. */
export function noPrivilegeEscalation(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  const exempt = [NFS_SERVER];
  return {
    name: "workload-no-privilege-escalation",
    description: "Every container sets securityContext.allowPrivilegeEscalation: false.",
    enforcementLevel: level,
    severity: "high",
    configSchema: exemptSchema(exempt),
    validateResource: validateWorkloads(({ ref, pod }, report) => {
      for (const { container, label } of containersOf(pod)) {
        if (container.securityContext?.allowPrivilegeEscalation !== false) {
          report(
            `${ref}, ${label}: securityContext.allowPrivilegeEscalation is not false. Unless it is false, a setuid binary in the image can give the process more privileges than it started with, and restricted Pod Security admission rejects the pod. Set it to false.`,
          );
        }
      }
    }, exempt),
  };
}
