import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { exemptSchema } from "../lib/refs";
import { validateWorkloads } from "../lib/workloads";

/** Pods do not mount a service account token unless they call the Kubernetes API (then: exempt them). */
export function serviceAccountToken(level: EnforcementLevel = "advisory"): ResourceValidationPolicy {
  return {
    name: "workload-no-service-account-token",
    description:
      "Pods set automountServiceAccountToken: false unless they call the Kubernetes API (list those in this policy's exempt config).",
    enforcementLevel: level,
    severity: "medium",
    configSchema: exemptSchema([]),
    validateResource: validateWorkloads(({ ref, pod }, report) => {
      if (pod.automountServiceAccountToken !== false) {
        report(
          `${ref}: pod does not set automountServiceAccountToken: false. The pod gets a Kubernetes API token it does not use; anyone who compromises the process can use it against the API server with the service account's rights. Set automountServiceAccountToken: false on the pod spec, or, if the pod calls the API, add "${ref}" to this policy's exempt config.`,
        );
      }
    }),
  };
}
