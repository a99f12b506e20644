import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { NFS_SERVER } from "../lib/exemptions";
import { exemptSchema } from "../lib/refs";
import { containersOf, validateWorkloads } from "../lib/workloads";

/** Profiles that filter system calls: the runtime's default, or one installed on the node. */
const FILTERING_PROFILES = new Set(["RuntimeDefault", "Localhost"]);

/** Containers run under the RuntimeDefault seccomp profile (set on the pod or the container). */
export function seccompRuntimeDefault(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  const exempt = [NFS_SERVER];
  return {
    name: "workload-seccomp-runtime-default",
    description:
      "Every container runs with seccompProfile.type RuntimeDefault (or a Localhost profile), set on the pod or the container.",
    enforcementLevel: level,
    severity: "medium",
    configSchema: exemptSchema(exempt),
    validateResource: validateWorkloads(({ ref, pod }, report) => {
      for (const { container, label } of containersOf(pod)) {
        const profile =
          container.securityContext?.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type;
        if (profile === undefined || !FILTERING_PROFILES.has(profile)) {
          const found =
            profile === undefined ? "no seccomp profile is set" : `seccompProfile.type is ${profile}`;
          report(
            `${ref}, ${label}: ${found} on the container or the pod. Without a filtering profile every system call reaches the kernel, so a kernel bug is directly exploitable from the container, and restricted Pod Security admission rejects the pod. Set securityContext.seccompProfile.type: RuntimeDefault on the pod.`,
          );
        }
      }
    }, exempt),
  };
}
