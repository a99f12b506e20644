/**
 * The one place that knows where each workload kind keeps its pod spec. Every pod-level policy is a
 * `WorkloadCheck` handed to `validateWorkloads`, which turns it into a single resource validation
 * covering Deployments, StatefulSets, DaemonSets, Jobs and CronJobs.
 *
 * One validation dispatching on the type (rather than one `validateResourceOfType` per kind in an
 * array) matters to the engine: every array entry that does not match reports the policy as "not
 * applicable", and a policy reported not applicable is never counted as passed for that resource.
 */
import * as k8s from "@pulumi/kubernetes";
import type { Unwrap } from "@pulumi/pulumi";
import {
  validateResourceOfType,
  type ReportViolation,
  type ResourceValidation,
  type ResourceValidationArgs,
} from "@pulumi/policy";
import { namespacedRef, skipIfExempt, type ObjectMetadata } from "./refs";

export type PodSpec = Unwrap<k8s.types.input.core.v1.PodSpec>;
export type Container = Unwrap<k8s.types.input.core.v1.Container>;
export type SecurityContext = Unwrap<k8s.types.input.core.v1.SecurityContext>;

export const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** A workload as the policies see it: who it is and the pod spec it stamps out. */
export interface Workload {
  kind: WorkloadKind;
  /** `Deployment agent-fleet/agent-python`: what messages print and `exempt` patterns match. */
  ref: string;
  namespace: string | undefined;
  /** The pod template's spec (no containers when the inputs carry none). */
  pod: PodSpec;
}

/** A container of the pod, with the words messages use for it. */
export interface PodContainer {
  container: Container;
  /** `container "agent"` or `init container "model"`. */
  label: string;
}

/** Reports one violation about the workload (the URN is always the resource's own). */
export type Report = (message: string) => void;

export type WorkloadCheck = (workload: Workload, report: Report, args: ResourceValidationArgs) => void;

function toWorkload(
  kind: WorkloadKind,
  metadata: ObjectMetadata | undefined,
  pod: PodSpec | undefined,
  args: ResourceValidationArgs,
): Workload {
  return {
    kind,
    ref: namespacedRef(kind, metadata, args.name),
    namespace: metadata?.namespace,
    pod: pod ?? { containers: [] },
  };
}

interface KindValidator {
  matches: (args: ResourceValidationArgs) => boolean;
  validate: ResourceValidation;
}

function kindValidators(run: (w: Workload, args: ResourceValidationArgs, report: ReportViolation) => void) {
  const validators: Record<WorkloadKind, KindValidator> = {
    Deployment: {
      matches: (a) => a.isType(k8s.apps.v1.Deployment),
      validate: validateResourceOfType(k8s.apps.v1.Deployment, (d, args, report) =>
        run(toWorkload("Deployment", d.metadata, d.spec?.template?.spec, args), args, report),
      ),
    },
    StatefulSet: {
      matches: (a) => a.isType(k8s.apps.v1.StatefulSet),
      validate: validateResourceOfType(k8s.apps.v1.StatefulSet, (s, args, report) =>
        run(toWorkload("StatefulSet", s.metadata, s.spec?.template?.spec, args), args, report),
      ),
    },
    DaemonSet: {
      matches: (a) => a.isType(k8s.apps.v1.DaemonSet),
      validate: validateResourceOfType(k8s.apps.v1.DaemonSet, (d, args, report) =>
        run(toWorkload("DaemonSet", d.metadata, d.spec?.template?.spec, args), args, report),
      ),
    },
    Job: {
      matches: (a) => a.isType(k8s.batch.v1.Job),
      validate: validateResourceOfType(k8s.batch.v1.Job, (j, args, report) =>
        run(toWorkload("Job", j.metadata, j.spec?.template?.spec, args), args, report),
      ),
    },
    CronJob: {
      matches: (a) => a.isType(k8s.batch.v1.CronJob),
      validate: validateResourceOfType(k8s.batch.v1.CronJob, (c, args, report) =>
        run(toWorkload("CronJob", c.metadata, c.spec?.jobTemplate?.spec?.template?.spec, args), args, report),
      ),
    },
  };
  return Object.values(validators);
}

/**
 * One resource validation running `check` on the pod spec of every workload kind, skipping objects
 * the policy's `exempt` config (default `exemptByDefault`) matches.
 */
export function validateWorkloads(
  check: WorkloadCheck,
  exemptByDefault: readonly string[] = [],
): ResourceValidation {
  const validators = kindValidators((workload, args, report) => {
    skipIfExempt(args, workload.ref, exemptByDefault);
    check(workload, (message) => report(message), args);
  });
  return (args, report) => {
    const validator = validators.find((v) => v.matches(args));
    if (!validator)
      return args.notApplicable(`Policy only applies to ${WORKLOAD_KINDS.join(", ")} resources`);
    return validator.validate(args, report);
  };
}

/** Containers and init containers (native sidecars included): everything that runs in the pod. */
export function containersOf(pod: PodSpec): PodContainer[] {
  return [
    ...(pod.containers ?? []).map((c) => ({ container: c, label: `container "${c.name}"` })),
    ...(pod.initContainers ?? []).map((c) => ({ container: c, label: `init container "${c.name}"` })),
  ];
}
