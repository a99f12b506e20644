import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { NFS_SERVER } from "../lib/exemptions";
import { exemptSchema } from "../lib/refs";
import { containersOf, validateWorkloads } from "../lib/workloads";

const WHY =
  "A process that may run as root turns any code-execution bug into root inside the container, one kernel bug away from the node, and the namespace's restricted Pod Security admission rejects the pod.";

/** Pods run as non-root: runAsNonRoot true at pod or container level, and no uid 0. */
export function runAsNonRoot(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  const exempt = [NFS_SERVER];
  return {
    name: "workload-run-as-non-root",
    description:
      "Every container runs as non-root: runAsNonRoot: true on the pod or the container, and no runAsUser 0.",
    enforcementLevel: level,
    severity: "high",
    configSchema: exemptSchema(exempt),
    validateResource: validateWorkloads(({ ref, pod }, report) => {
      for (const { container, label } of containersOf(pod)) {
        const nonRoot = container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
        const uid = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
        if (nonRoot !== true) {
          report(
            `${ref}, ${label}: runAsNonRoot is not true on the container or the pod. ${WHY} Set securityContext.runAsNonRoot: true and a non-zero runAsUser (the fleet's images run as 10001).`,
          );
        }
        if (uid === 0) {
          report(
            `${ref}, ${label}: runAsUser is 0 (root). ${WHY} Run as the image's unprivileged uid (10001).`,
          );
        }
      }
    }, exempt),
  };
}
