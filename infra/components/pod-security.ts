/**
 * The security baseline every pod of the fleet meets (Pod Security Standards `restricted`):
 * non-root, read-only root filesystem with emptyDir scratch, no privilege escalation, every
 * capability dropped, seccomp RuntimeDefault. Pure helpers, shared by every workload component.
 */
import type * as k8s from "@pulumi/kubernetes";

type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;

/** The uid/gid the runtime images run as (images/Dockerfile creates it). */
export const RUNTIME_UID = 10001;

export function podSecurityContext(uid: number = RUNTIME_UID): PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    fsGroupChangePolicy: "OnRootMismatch",
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export function containerSecurityContext(uid: number = RUNTIME_UID): SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** A memory-capped emptyDir for /tmp, since the root filesystem is read-only. */
export function scratchVolume(name = "tmp", sizeLimit = "256Mi"): { volume: Volume; mount: VolumeMount } {
  return { volume: { name, emptyDir: { sizeLimit } }, mount: { name, mountPath: "/tmp" } };
}

/** Labels shared by everything the fleet creates. */
export function fleetLabels(component: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "app.kubernetes.io/part-of": "agent-fleet",
    "app.kubernetes.io/managed-by": "pulumi",
    "app.kubernetes.io/component": component,
    ...extra,
  };
}

/** The label that lets a pod through the queue's NetworkPolicy. */
export const QUEUE_CLIENT_LABEL = "agent-fleet.io/queue-client";
