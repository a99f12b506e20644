/**
 * Pure builders for the runtime's containers: probes on its endpoints, the model sidecar, and the
 * drain margin its grace period leaves. They take plain values (or Inputs passed through
 * untouched), so they test without Pulumi mocks.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResourceSpec } from "../../catalog";
import { containerSecurityContext } from "./conventions";

type Container = k8s.types.input.core.v1.Container;
type Probe = k8s.types.input.core.v1.Probe;

/** The runtime stops claiming and must be done this many seconds before the kubelet kills the pod. */
export const DRAIN_MARGIN_SECONDS = 10;

/**
 * An agent pod's grace period: its longest task, plus the margin to release and exit. A scale-down,
 * node drain or upgrade then lets every in-flight task finish instead of abandoning it mid-way to
 * be re-run (and billed) elsewhere; the runtime's drain deadline (DRAIN_TIMEOUT_SECONDS) is the
 * task timeout itself.
 */
export function agentGracePeriodSeconds(taskTimeoutSeconds: number): number {
  return taskTimeoutSeconds + DRAIN_MARGIN_SECONDS;
}

/** Startup, liveness and readiness probes on the runtime's endpoints. */
export function runtimeProbes(
  port: number | string = "http",
): Pick<Container, "startupProbe" | "livenessProbe" | "readinessProbe"> {
  const get = (path: string) => ({ httpGet: { path, port } });
  const startupProbe: Probe = {
    ...get("/healthz"),
    periodSeconds: 2,
    failureThreshold: 30,
    timeoutSeconds: 2,
  };
  const livenessProbe: Probe = {
    ...get("/healthz"),
    periodSeconds: 10,
    failureThreshold: 3,
    timeoutSeconds: 2,
  };
  const readinessProbe: Probe = {
    ...get("/readyz"),
    periodSeconds: 5,
    failureThreshold: 2,
    timeoutSeconds: 2,
  };
  return { startupProbe, livenessProbe, readinessProbe };
}

export interface ModelSidecarSpec {
  image: pulumi.Input<string>;
  /** File name on the model volume. */
  file: string;
  port: number;
  contextSize: number;
  resources: { requests: ResourceSpec; limits: ResourceSpec };
  /** Where the shared volume is mounted. */
  mountPath: string;
}

/**
 * The inference sidecar: llama.cpp's OpenAI-compatible server on the shared model file. It runs as
 * a native sidecar (an init container with restartPolicy Always), so it is up before the agent
 * starts and stops after it; its startup probe holds the agent back until the model is loaded.
 */
export function modelSidecar(spec: ModelSidecarSpec, volumeName: string): Container {
  const threads = Math.max(1, Math.floor(Number.parseFloat(spec.resources.limits.cpu) || 1));
  return {
    name: "model",
    image: spec.image,
    restartPolicy: "Always",
    args: [
      "--model",
      `${spec.mountPath}/${spec.file}`,
      "--host",
      "0.0.0.0",
      "--port",
      String(spec.port),
      "--ctx-size",
      String(spec.contextSize),
      "--threads",
      String(threads),
    ],
    ports: [{ name: "model", containerPort: spec.port }],
    resources: spec.resources,
    securityContext: containerSecurityContext(),
    volumeMounts: [
      { name: volumeName, mountPath: spec.mountPath, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
    startupProbe: { httpGet: { path: "/health", port: spec.port }, periodSeconds: 5, failureThreshold: 120 },
    livenessProbe: { httpGet: { path: "/health", port: spec.port }, periodSeconds: 15, failureThreshold: 4 },
  };
}
