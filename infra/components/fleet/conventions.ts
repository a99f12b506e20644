/**
 * What every workload of the fleet agrees on: labels and names other objects select by, ports,
 * and the security baseline every pod meets (Pod Security Standards `restricted`: non-root,
 * read-only root filesystem with emptyDir scratch, no privilege escalation, every capability
 * dropped, seccomp RuntimeDefault). Pure values, so they test without mocks.
 */
import type * as k8s from "@pulumi/kubernetes";
import { DEFAULT_PORT } from "../../../agent-runtime/src/contract";
import { fleetLabels } from "../../lib/labels";

export { fleetLabels };

type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;

// ---------------------------------------------------------------- ports and names

/** The runtime's HTTP port (agents and router): /healthz, /readyz, /metrics, /v1/... */
export const AGENT_PORT = DEFAULT_PORT;
/** The port Services expose HTTP on, in front of AGENT_PORT. */
export const SERVICE_PORT = 80;
export const REDIS_PORT = 6379;

/** `agent-<name>` — the workload, Service, ConfigMap and ServiceAccount name of an agent. */
export function agentResourceName(agent: string): string {
  return `agent-${agent}`;
}

/** The router's Deployment, Service and mesh host. */
export const ROUTER_NAME = "task-router";
/** The in-cluster Redis' StatefulSet, Service and container. */
export const REDIS_NAME = "redis";
/** The model loader's ConfigMap, and its Job's name before the manifest digest (`model-loader-<digest>`). */
export const MODEL_LOADER_NAME = "model-loader";

// ---------------------------------------------------------------- labels

/** The label that lets a pod through the queue's NetworkPolicy. */
export const QUEUE_CLIENT_LABEL = "agent-fleet.io/queue-client";
/** `stable` or `canary`: the mesh's DestinationRule subsets select on it. */
export const TRACK_LABEL = "agent-fleet.io/track";

/** What an agent's Service selects (both tracks). */
export function agentLabels(agent: string): Record<string, string> {
  return { "app.kubernetes.io/name": agentResourceName(agent), "agent-fleet.io/agent": agent };
}

export function agentPodLabels(agent: string): Record<string, string> {
  return { ...fleetLabels("agent"), ...agentLabels(agent), [QUEUE_CLIENT_LABEL]: "true" };
}

/** The router's pods. */
export const ROUTER_SELECTOR = { "app.kubernetes.io/name": ROUTER_NAME };
/** The in-cluster Redis' pods. */
export const REDIS_SELECTOR = {
  "app.kubernetes.io/name": REDIS_NAME,
  "app.kubernetes.io/component": "queue",
};

// ---------------------------------------------------------------- pod metadata and placement

/** The annotations Prometheus discovers the runtime's /metrics by. */
export function scrapeAnnotations(): Record<string, string> {
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(AGENT_PORT),
    "prometheus.io/path": "/metrics",
  };
}

/** Spread a workload's pods over nodes where the scheduler can; never block scheduling on it. */
export function spreadOverNodes(
  selector: Record<string, string>,
): k8s.types.input.core.v1.TopologySpreadConstraint {
  return {
    maxSkew: 1,
    topologyKey: "kubernetes.io/hostname",
    whenUnsatisfiable: "ScheduleAnyway",
    labelSelector: { matchLabels: selector },
  };
}

// ---------------------------------------------------------------- security baseline

/** The uid/gid the runtime images run as (images/Dockerfile creates it). */
export const RUNTIME_UID = 10001;

/** The uid/gid Redis runs as: the official image's `redis` user (and the node suite's image). */
export const REDIS_UID = 999;

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
