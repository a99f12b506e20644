import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { parseQuantity } from "../lib/quantity";
import { exemptSchema } from "../lib/refs";
import { containersOf, validateWorkloads } from "../lib/workloads";

const RESOURCES = ["cpu", "memory"] as const;

const WHY_MISSING = {
  requests:
    "Without a request the scheduler places the pod as if it needed nothing, so nodes overcommit and the HPA's CPU utilisation target has no baseline",
  limits:
    "Without a limit one runaway task (a model loading twice, a prompt loop) can starve every other pod on the node",
} as const;

type Quantity = string | number;

function quantityOf(values: Record<string, Quantity> | undefined, resource: string): Quantity | undefined {
  return values?.[resource];
}

/** Every container requests and limits CPU and memory, and no limit is below its request. */
export function resourceRequestsLimits(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  return {
    name: "workload-resource-requests-limits",
    description:
      "Every container sets CPU and memory requests and limits, and each limit is at least its request.",
    enforcementLevel: level,
    severity: "medium",
    configSchema: exemptSchema([]),
    validateResource: validateWorkloads(({ ref, pod }, report) => {
      for (const { container, label } of containersOf(pod)) {
        const requests = container.resources?.requests;
        const limits = container.resources?.limits;
        for (const resource of RESOURCES) {
          for (const [field, values] of [
            ["requests", requests],
            ["limits", limits],
          ] as const) {
            if (quantityOf(values, resource) === undefined) {
              report(
                `${ref}, ${label}: resources.${field}.${resource} is not set. ${WHY_MISSING[field]}. Set resources.${field}.${resource}.`,
              );
            }
          }
          const request = quantityOf(requests, resource);
          const limit = quantityOf(limits, resource);
          if (request === undefined || limit === undefined) continue;
          const requested = parseQuantity(request);
          const limited = parseQuantity(limit);
          if (requested === undefined || limited === undefined) {
            const bad =
              requested === undefined ? `requests.${resource} "${request}"` : `limits.${resource} "${limit}"`;
            report(
              `${ref}, ${label}: resources.${bad} is not a Kubernetes quantity (examples: 500m, 2, 8Gi). The API server rejects the pod. Fix the value.`,
            );
          } else if (limited < requested) {
            report(
              `${ref}, ${label}: resources.limits.${resource} (${limit}) is below resources.requests.${resource} (${request}). The API server rejects a limit below its request, so the rollout fails. Raise the limit or lower the request.`,
            );
          }
        }
      }
    }),
  };
}
