/**
 * Helpers for stack policies. These see each resource's *outputs*, and the engine strips internal
 * keys from them (the Kubernetes provider's `__inputs` never reaches a policy pack): for a
 * Kubernetes object that is the live object as the API server returned it, server defaults
 * included (a Deployment created without `replicas` comes back with `spec.replicas: 1`) and
 * whatever controllers wrote since (an HPA's replicas). Questions about what the program asked for
 * read `declaredValue`; questions about where an object landed or what it enforces read the props.
 */
import * as k8s from "@pulumi/kubernetes";
import type { PolicyResource } from "@pulumi/policy";
import { DEFAULT_NAMESPACE, namespacedRef, type ObjectMetadata } from "./refs";
import type { WorkloadKind } from "./workloads";

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The Kubernetes provider's field managers: `pulumi-kubernetes-<suffix>` (server-side apply). */
const PROVIDER_MANAGER = /^pulumi-kubernetes(-|$)/;
/** What the provider records in client-side-apply mode instead of owning fields. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) node = isRecord(node) ? node[key] : undefined;
  return node;
}

/** Whether a managedFields `fieldsV1` tree owns the map field at `path` (f:<key> at each level). */
function ownsPath(fields: unknown, path: readonly string[]): boolean {
  return (
    valueAt(
      fields,
      path.map((key) => `f:${key}`),
    ) !== undefined
  );
}

/**
 * The value the program declared for the map field at `path` (e.g. ["spec", "replicas"]), or
 * undefined when it declared none. An object that came back from the API server records who set
 * each field in `metadata.managedFields`: the field was declared when the provider's server-side
 * apply owns it (then the live value is the declared one), or, in client-side-apply mode, when the
 * last-applied configuration holds it. Without either, the props are the program's own inputs (a
 * create in preview), so they answer directly.
 */
export function declaredValue(resource: PolicyResource, path: readonly string[]): unknown {
  const metadata: unknown = resource.props["metadata"];
  const managed = isRecord(metadata) ? metadata["managedFields"] : undefined;
  const applies = (Array.isArray(managed) ? managed : []).filter(
    (entry): entry is Record<string, unknown> =>
      isRecord(entry) &&
      typeof entry["manager"] === "string" &&
      PROVIDER_MANAGER.test(entry["manager"]) &&
      entry["operation"] === "Apply" &&
      !entry["subresource"],
  );
  if (applies.length > 0) {
    return applies.some((entry) => ownsPath(entry["fieldsV1"], path))
      ? valueAt(resource.props, path)
      : undefined;
  }
  const annotations = isRecord(metadata) ? metadata["annotations"] : undefined;
  const lastApplied = isRecord(annotations) ? annotations[LAST_APPLIED] : undefined;
  if (typeof lastApplied === "string") {
    try {
      return valueAt(JSON.parse(lastApplied), path);
    } catch {
      // Not JSON: not the provider's record; fall through to the props.
    }
  }
  return Array.isArray(managed) && managed.length > 0 ? undefined : valueAt(resource.props, path);
}

/** name/namespace as the object landed (the provider may have defaulted both). */
export function metadataOf(resource: PolicyResource): ObjectMetadata {
  const live: unknown = resource.props["metadata"];
  const pick = (key: "name" | "namespace"): string | undefined => {
    const value = isRecord(live) ? live[key] : undefined;
    return typeof value === "string" && value !== "" ? value : undefined;
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
