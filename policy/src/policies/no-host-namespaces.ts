import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { exemptSchema } from "../lib/refs";
import { validateWorkloads } from "../lib/workloads";

const HOST_NAMESPACES = [
  ["hostNetwork", "the node's network stack (every port on the node, traffic of other pods)"],
  ["hostPID", "the node's process table (signals to and /proc of every process on the node)"],
  ["hostIPC", "the node's IPC namespace (shared memory of every process on the node)"],
] as const;

/** Pods do not share the node's network, PID or IPC namespace. */
export function noHostNamespaces(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  return {
    name: "workload-no-host-namespaces",
    description: "Pods do not set hostNetwork, hostPID or hostIPC.",
    enforcementLevel: level,
    severity: "critical",
    configSchema: exemptSchema([]),
    validateResource: validateWorkloads(({ ref, pod }, report) => {
      for (const [field, shares] of HOST_NAMESPACES) {
        if (pod[field] === true) {
          report(
            `${ref}: pod sets ${field}: true. The pod would share ${shares}, bypassing NetworkPolicies and container isolation. Remove ${field}.`,
          );
        }
      }
    }),
  };
}
