import * as k8s from "@pulumi/kubernetes";
import {
  validateResourceOfType,
  type EnforcementLevel,
  type ReportViolation,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
} from "@pulumi/policy";
import { namespacedRef, type ObjectMetadata } from "../lib/refs";

interface HpaProps {
  metadata?: ObjectMetadata;
  spec?: { minReplicas?: number; maxReplicas?: number };
}

function checkBounds(hpa: HpaProps, args: ResourceValidationArgs, report: ReportViolation): void {
  const ref = namespacedRef("HorizontalPodAutoscaler", hpa.metadata, args.name);
  const max = hpa.spec?.maxReplicas;
  // The API server defaults an unset minReplicas to 1.
  const min = hpa.spec?.minReplicas ?? 1;
  if (min < 1) {
    report(
      `${ref}: minReplicas is ${min}. Below 1 the agent scales to zero and queued tasks wait with no worker (the API server also rejects it unless the HPAScaleToZero feature gate is on). Set minReplicas to at least 1.`,
    );
  }
  if (max === undefined) {
    report(
      `${ref}: maxReplicas is not set. The API server rejects an HPA without a ceiling. Set maxReplicas.`,
    );
  } else if (min > max) {
    report(
      `${ref}: minReplicas (${min}) is greater than maxReplicas (${max}). The API server rejects the HPA, so the agent would not autoscale at all. Set minReplicas <= maxReplicas in the stack config.`,
    );
  }
}

/** HPAs keep 1 <= minReplicas <= maxReplicas. */
export function hpaReplicaBounds(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  const v2 = validateResourceOfType(k8s.autoscaling.v2.HorizontalPodAutoscaler, (hpa, args, report) =>
    checkBounds(hpa, args, report),
  );
  const v1 = validateResourceOfType(k8s.autoscaling.v1.HorizontalPodAutoscaler, (hpa, args, report) =>
    checkBounds(hpa, args, report),
  );
  return {
    name: "hpa-replica-bounds",
    description: "HorizontalPodAutoscalers have minReplicas >= 1 and minReplicas <= maxReplicas.",
    enforcementLevel: level,
    severity: "medium",
    validateResource: (args, report) => {
      if (args.isType(k8s.autoscaling.v2.HorizontalPodAutoscaler)) return v2(args, report);
      if (args.isType(k8s.autoscaling.v1.HorizontalPodAutoscaler)) return v1(args, report);
      return args.notApplicable(
        "Policy only applies to autoscaling/v2 and autoscaling/v1 HorizontalPodAutoscalers",
      );
    },
  };
}
