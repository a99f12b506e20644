import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { NFS_SERVER } from "../lib/exemptions";
import { exemptSchema } from "../lib/refs";
import { containersOf, validateWorkloads } from "../lib/workloads";

/** Containers run with `readOnlyRootFilesystem: true`. */
export function readOnlyRootFilesystem(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  const exempt = [NFS_SERVER];
  return {
    name: "workload-read-only-root-filesystem",
    description:
      "Every container has securityContext.readOnlyRootFilesystem: true (scratch space comes from emptyDir volumes).",
    enforcementLevel: level,
    severity: "medium",
    configSchema: exemptSchema(exempt),
    validateResource: validateWorkloads(({ ref, pod }, report) => {
      for (const { container, label } of containersOf(pod)) {
        if (container.securityContext?.readOnlyRootFilesystem !== true) {
          report(
            `${ref}, ${label}: securityContext.readOnlyRootFilesystem is not true. A writable root filesystem lets a compromised process replace binaries or plant tools that survive until the container restarts. Set it to true and mount an emptyDir where the process needs scratch space (/tmp).`,
          );
        }
      }
    }, exempt),
  };
}
