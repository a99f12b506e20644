import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { NFS_SERVER } from "../lib/exemptions";
import { exemptSchema } from "../lib/refs";
import { containersOf, validateWorkloads } from "../lib/workloads";

/** Containers drop ALL Linux capabilities and add none back. */
export function dropAllCapabilities(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  const exempt = [NFS_SERVER];
  return {
    name: "workload-drop-all-capabilities",
    description:
      "Every container drops ALL Linux capabilities (securityContext.capabilities.drop) and adds none.",
    enforcementLevel: level,
    severity: "high",
    configSchema: exemptSchema(exempt),
    validateResource: validateWorkloads(({ ref, pod }, report) => {
      for (const { container, label } of containersOf(pod)) {
        const capabilities = container.securityContext?.capabilities;
        if (!(capabilities?.drop ?? []).includes("ALL")) {
          report(
            `${ref}, ${label}: securityContext.capabilities.drop does not include ALL. The runtime's default capabilities (such as NET_RAW and CHOWN) stay available to an attacker who gets code execution. Set capabilities.drop: ["ALL"].`,
          );
        }
        const added = capabilities?.add ?? [];
        if (added.length > 0) {
          report(
            `${ref}, ${label}: securityContext.capabilities.add grants ${added.join(", ")}. Every added capability widens what a compromised process can do to the node; the fleet's processes need none. Remove capabilities.add.`,
          );
        }
      }
    }, exempt),
  };
}
