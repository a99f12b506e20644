/**
 * Helpers for stack policies. These see each resource's *outputs*; for Kubernetes objects that is
 * the live object, server defaults included (a Deployment created without `replicas` comes back with
 * `spec.replicas: 1`), plus what the program declared under `__inputs`. Questions about what the
 * program asked for read the declaration; questions about where an object landed read the live one.
 */
import * as k8s from "@pulumi/kubernetes";
import type { PolicyResource } from "@pulumi/policy";
import { DEFAULT_NAMESPACE, namespacedRef, type ObjectMetadata } from "./refs";
import type { WorkloadKind } from "./workloads";

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The props the program declared (the provider's `__inputs`), or the props themselves. */
export function declaredProps(resource: PolicyResource): Record<string, unknown> {
  const inputs: unknown = resource.props["__inputs"];
  return isRecord(inputs) ? inputs : resource.props;
}

/** name/namespace: live values first (the provider may default both), then the declared ones. */
export function metadataOf(resource: PolicyResource): ObjectMetadata {
  const live: unknown = resource.props["metadata"];
  const declared: unknown = declaredProps(resource)["metadata"];
  const pick = (key: "name" | "namespace"): string | undefined => {
    for (const source of [live, declared]) {
      if (!isRecord(source)) continue;
      const value = source[key];
      if (typeof value === "string" && value !== "") return value;
    }
    return undefined;
  };
  const name = pick("name");
  const namespace = pick("namespace");
  return { ...(name !== undefined ? { name } : {}), ...(namespace !== undefined ? { namespace } : {}) };
}

/** A workload of the stack. */
export interface StackWorkload {
  kind: WorkloadKind;
  name: string;
  namespace: string;
  ref: string;
  resource: PolicyResource;
}

const STACK_WORKLOAD_KINDS: { kind: WorkloadKind; matches: (r: PolicyResource) => boolean }[] = [
  { kind: "Deployment", matches: (r) => r.isType(k8s.apps.v1.Deployment) },
  { kind: "StatefulSet", matches: (r) => r.isType(k8s.apps.v1.StatefulSet) },
  { kind: "DaemonSet", matches: (r) => r.isType(k8s.apps.v1.DaemonSet) },
  { kind: "Job", matches: (r) => r.isType(k8s.batch.v1.Job) },
  { kind: "CronJob", matches: (r) => r.isType(k8s.batch.v1.CronJob) },
];

/** Every workload of the stack, with the namespace it lands in. */
export function stackWorkloads(resources: readonly PolicyResource[]): StackWorkload[] {
  const workloads: StackWorkload[] = [];
  for (const resource of resources) {
    const kind = STACK_WORKLOAD_KINDS.find((k) => k.matches(resource))?.kind;
    if (kind === undefined) continue;
    const metadata = metadataOf(resource);
    const namespace = metadata.namespace ?? DEFAULT_NAMESPACE;
    const name = metadata.name ?? resource.name;
    workloads.push({ kind, name, namespace, ref: namespacedRef(kind, { name, namespace }, name), resource });
  }
  return workloads;
}
