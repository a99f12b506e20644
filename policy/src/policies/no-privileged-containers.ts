import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { NFS_SERVER } from "../lib/exemptions";
import { exemptSchema } from "../lib/refs";
import { containersOf, validateWorkloads } from "../lib/workloads";

/** No container runs privileged. */
export function noPrivilegedContainers(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  const exempt = [NFS_SERVER];
  return {
    name: "workload-no-privileged-containers",
    description: "No container sets securityContext.privileged: true.",
    enforcementLevel: level,
    severity: "critical",
    configSchema: exemptSchema(exempt),
    validateResource: validateWorkloads(({ ref, pod }, report) => {
      for (const { container, label } of containersOf(pod)) {
        if (container.securityContext?.privileged === true) {
          report(
            `${ref}, ${label}: securityContext.privileged is true. A privileged container has every capability and the node's devices, so escaping to the node is trivial. Remove privileged (or move the workload to a namespace of its own and exempt it in this policy's config).`,
          );
        }
      }
    }, exempt),
  };
}
