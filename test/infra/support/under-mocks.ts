/** Runs component constructors under fresh recording mocks and hands back what was registered. */
import * as pulumi from "@pulumi/pulumi";
import { installMocks, type RecordedResource, type RecordingMocks } from "../../../infra/render/mocks";

/**
 * Installs fresh mocks, runs `program` inside a Pulumi stack (awaiting every registration it
 * started), and returns the recorded resources with whatever `program` resolved to.
 */
export async function underMocks<T>(
  program: () => Promise<T> | T,
  stack = "test",
): Promise<{ mocks: RecordingMocks; result: T }> {
  const mocks = await installMocks(stack);
  let result: T | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    result = await program();
    return {};
  });
  await pulumi.runtime.disconnect();
  return { mocks, result: result as T };
}

/** The recorded custom resources of one type. */
export function ofType(mocks: RecordingMocks, type: string): RecordedResource[] {
  return mocks.resources.filter((r) => r.type === type);
}

/** The one recorded resource of `type` named `name`. */
export function named(mocks: RecordingMocks, type: string, name: string): RecordedResource {
  const found = mocks.resources.find((r) => r.type === type && r.name === name);
  if (!found) {
    const have = ofType(mocks, type).map((r) => r.name);
    throw new Error(`no ${type} named ${name}; have ${have.join(", ") || "none"}`);
  }
  return found;
}

/** The type tokens of the Kubernetes resources the components register. */
export const K8S = {
  Namespace: "kubernetes:core/v1:Namespace",
  ServiceAccount: "kubernetes:core/v1:ServiceAccount",
  ConfigMap: "kubernetes:core/v1:ConfigMap",
  Secret: "kubernetes:core/v1:Secret",
  Service: "kubernetes:core/v1:Service",
  PersistentVolume: "kubernetes:core/v1:PersistentVolume",
  PersistentVolumeClaim: "kubernetes:core/v1:PersistentVolumeClaim",
  Deployment: "kubernetes:apps/v1:Deployment",
  StatefulSet: "kubernetes:apps/v1:StatefulSet",
  Job: "kubernetes:batch/v1:Job",
  PodDisruptionBudget: "kubernetes:policy/v1:PodDisruptionBudget",
  HorizontalPodAutoscaler: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
  NetworkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  StorageClass: "kubernetes:storage.k8s.io/v1:StorageClass",
  HelmRelease: "kubernetes:helm.sh/v3:Release",
  VirtualService: "kubernetes:networking.istio.io/v1:VirtualService",
  DestinationRule: "kubernetes:networking.istio.io/v1:DestinationRule",
  Gateway: "kubernetes:networking.istio.io/v1:Gateway",
  PeerAuthentication: "kubernetes:security.istio.io/v1:PeerAuthentication",
  AuthorizationPolicy: "kubernetes:security.istio.io/v1:AuthorizationPolicy",
  Certificate: "kubernetes:cert-manager.io/v1:Certificate",
  VolumeSnapshot: "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshot",
  VolumeSnapshotClass: "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass",
} as const;

/** The pod template's spec of a recorded Deployment, StatefulSet or Job. */
export function podSpecOf(workload: RecordedResource): Record<string, unknown> & {
  containers: Record<string, unknown>[];
  initContainers?: Record<string, unknown>[];
  volumes?: Record<string, unknown>[];
} {
  const spec = workload.inputs.spec as { template: { spec: ReturnType<typeof podSpecOf> } };
  return spec.template.spec;
}

/** The names of the recorded resources of `type`, in registration order. */
export function namesOf(mocks: RecordingMocks, type: string): string[] {
  return ofType(mocks, type).map((r) => r.name);
}
