/**
 * Compliant objects shaped like what agent-fleet renders (infra/components): the security baseline
 * of pod-security.ts (uid 10001, read-only root, drop ALL, seccomp RuntimeDefault), requests and
 * limits, images by digest, the read-only model volume, default-deny networking, HPAs without
 * replicas. Each builder returns a fresh object; tests break one field of it.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { Unwrap } from "@pulumi/pulumi";
import type { Fixture } from "./harness";

export type DeploymentProps = Unwrap<k8s.apps.v1.DeploymentArgs>;
export type StatefulSetProps = Unwrap<k8s.apps.v1.StatefulSetArgs>;
export type DaemonSetProps = Unwrap<k8s.apps.v1.DaemonSetArgs>;
export type JobProps = Unwrap<k8s.batch.v1.JobArgs>;
export type CronJobProps = Unwrap<k8s.batch.v1.CronJobArgs>;
export type NamespaceProps = Unwrap<k8s.core.v1.NamespaceArgs>;
export type ConfigMapProps = Unwrap<k8s.core.v1.ConfigMapArgs>;
export type NetworkPolicyProps = Unwrap<k8s.networking.v1.NetworkPolicyArgs>;
export type HpaProps = Unwrap<k8s.autoscaling.v2.HorizontalPodAutoscalerArgs>;
export type PodSpec = Unwrap<k8s.types.input.core.v1.PodSpec>;
export type Container = Unwrap<k8s.types.input.core.v1.Container>;

export const NAMESPACE = "agent-fleet";
export const UID = 10001;
export const AGENT_IMAGE = `registry.example.com/agent-fleet/agent@sha256:${"a1".repeat(32)}`;
export const MODEL_IMAGE = `ghcr.io/ggml-org/llama.cpp@sha256:${"b2".repeat(32)}`;
export const LOADER_IMAGE = `curlimages/curl@sha256:${"c3".repeat(32)}`;

export const TYPES = {
  Deployment: "kubernetes:apps/v1:Deployment",
  StatefulSet: "kubernetes:apps/v1:StatefulSet",
  DaemonSet: "kubernetes:apps/v1:DaemonSet",
  Job: "kubernetes:batch/v1:Job",
  CronJob: "kubernetes:batch/v1:CronJob",
  Namespace: "kubernetes:core/v1:Namespace",
  ConfigMap: "kubernetes:core/v1:ConfigMap",
  NetworkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  HpaV2: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
  HpaV1: "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
  Service: "kubernetes:core/v1:Service",
} as const;

const podSecurityContext = () => ({
  runAsNonRoot: true,
  runAsUser: UID,
  runAsGroup: UID,
  fsGroup: UID,
  fsGroupChangePolicy: "OnRootMismatch",
  seccompProfile: { type: "RuntimeDefault" },
});

const containerSecurityContext = () => ({
  runAsNonRoot: true,
  runAsUser: UID,
  runAsGroup: UID,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  privileged: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
});

const labels = (name: string) => ({
  "app.kubernetes.io/part-of": "agent-fleet",
  "app.kubernetes.io/managed-by": "pulumi",
  "app.kubernetes.io/component": "agent",
  "app.kubernetes.io/name": name,
});

function agentContainer(agent: string, requests: { cpu: string; memory: string }, limits: typeof requests) {
  return {
    name: "agent",
    image: AGENT_IMAGE,
    args: ["worker", "--agent", agent],
    ports: [{ name: "http", containerPort: 8080 }],
    envFrom: [{ configMapRef: { name: `agent-${agent}` } }],
    resources: { requests, limits },
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  };
}

function agentPod(agent: string, container: Container): PodSpec {
  return {
    serviceAccountName: `agent-${agent}`,
    automountServiceAccountToken: false,
    securityContext: podSecurityContext(),
    terminationGracePeriodSeconds: 60,
    containers: [container],
    volumes: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
  };
}

/** An API-backed agent (backend): a Deployment under an HPA, so no replicas. */
export function deployment(): DeploymentProps {
  const name = "agent-backend";
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NAMESPACE, labels: labels(name) },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/name": name } },
      template: {
        metadata: { labels: labels(name) },
        spec: agentPod(
          "backend",
          agentContainer("backend", { cpu: "1", memory: "2Gi" }, { cpu: "2", memory: "4Gi" }),
        ),
      },
    },
  };
}

/** The python agent: a StatefulSet with the shared model volume and the llama.cpp native sidecar. */
export function statefulSet(): StatefulSetProps {
  const name = "agent-python";
  const pod = agentPod(
    "python",
    agentContainer("python", { cpu: "4", memory: "8Gi" }, { cpu: "8", memory: "16Gi" }),
  );
  pod.initContainers = [
    {
      name: "model",
      image: MODEL_IMAGE,
      restartPolicy: "Always",
      args: ["--model", "/models/qwen3-8b-q4_k_m.gguf", "--port", "8081"],
      resources: { requests: { cpu: "2", memory: "6Gi" }, limits: { cpu: "4", memory: "8Gi" } },
      securityContext: containerSecurityContext(),
      volumeMounts: [
        { name: "models", mountPath: "/models", readOnly: true },
        { name: "tmp", mountPath: "/tmp" },
      ],
    },
  ];
  pod.volumes = [
    ...(pod.volumes ?? []),
    { name: "models", persistentVolumeClaim: { claimName: "models", readOnly: true } },
  ];
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: NAMESPACE, labels: labels(name) },
    spec: {
      serviceName: `${name}-pods`,
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { "app.kubernetes.io/name": name } },
      template: { metadata: { labels: labels(name) }, spec: pod },
    },
  };
}

/** The model loader Job: writes the models claim (the one writer the model policy allows). */
export function job(): JobProps {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "model-loader-0123456789", namespace: NAMESPACE },
    spec: {
      backoffLimit: 3,
      template: {
        spec: {
          restartPolicy: "OnFailure",
          automountServiceAccountToken: false,
          securityContext: podSecurityContext(),
          containers: [
            {
              name: "loader",
              image: LOADER_IMAGE,
              command: ["sh", "/etc/model-loader/load.sh"],
              resources: {
                requests: { cpu: "250m", memory: "256Mi" },
                limits: { cpu: "1", memory: "512Mi" },
              },
              securityContext: containerSecurityContext(),
              volumeMounts: [
                { name: "models", mountPath: "/models" },
                { name: "loader", mountPath: "/etc/model-loader", readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            { name: "models", persistentVolumeClaim: { claimName: "models-staging" } },
            { name: "loader", configMap: { name: "model-loader" } },
            { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
          ],
        },
      },
    },
  };
}

/** A node agent, to cover DaemonSets (the fleet itself runs none). */
export function daemonSet(): DaemonSetProps {
  const name = "node-probe";
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name, namespace: NAMESPACE },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/name": name } },
      template: {
        metadata: { labels: { "app.kubernetes.io/name": name } },
        spec: agentPod("probe", {
          ...agentContainer("probe", { cpu: "50m", memory: "64Mi" }, { cpu: "100m", memory: "128Mi" }),
          name: "probe",
        }),
      },
    },
  };
}

/** A nightly cleanup, to cover CronJobs. */
export function cronJob(): CronJobProps {
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: "queue-janitor", namespace: NAMESPACE },
    spec: {
      schedule: "0 3 * * *",
      jobTemplate: {
        spec: {
          template: {
            spec: {
              ...agentPod("janitor", {
                ...agentContainer(
                  "janitor",
                  { cpu: "100m", memory: "128Mi" },
                  { cpu: "500m", memory: "256Mi" },
                ),
                name: "janitor",
              }),
              restartPolicy: "OnFailure",
            },
          },
        },
      },
    },
  };
}

export function namespace(): NamespaceProps {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: NAMESPACE,
      labels: {
        "app.kubernetes.io/part-of": "agent-fleet",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
      },
    },
  };
}

export function configMap(): ConfigMapProps {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "agent-backend", namespace: NAMESPACE },
    data: {
      AGENT_TYPE: "backend",
      TASK_TYPES: "api,database",
      CONCURRENCY: "4",
      PORT: "8080",
      REDIS_URL: "redis://redis.agent-fleet.svc.cluster.local:6379/0",
      QUEUE_PREFIX: "fleet",
      EXECUTOR: "openai",
      LLM_MODEL: "gpt-4.1",
      LLM_MAX_TOKENS: "4096",
      ROUTER_TOKENS_FILE: "/var/run/router/tokens",
    },
  };
}

export function defaultDeny(namespace = NAMESPACE): NetworkPolicyProps {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "default-deny", namespace },
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  };
}

export function allowDns(): NetworkPolicyProps {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "allow-dns", namespace: NAMESPACE },
    spec: {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ ports: [{ protocol: "UDP", port: 53 }] }],
    },
  };
}

export function hpa(
  target: { kind: string; name: string } = { kind: "Deployment", name: "agent-backend" },
): HpaProps {
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: target.name, namespace: NAMESPACE },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: target.kind, name: target.name },
      minReplicas: 1,
      maxReplicas: 5,
      metrics: [
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
        },
      ],
    },
  };
}

/** A workload object of any kind, as a fixture for runResourcePolicy. */
export const fixture = (type: string, name: string, props: object): Fixture => ({ type, name, props });

/** The pod spec of a workload fixture (throws when the fixture has none). */
export function podOf(props: DeploymentProps | StatefulSetProps | DaemonSetProps | JobProps): PodSpec {
  const pod = props.spec?.template?.spec;
  if (!pod) throw new Error("fixture has no pod spec");
  return pod;
}

/** A container (or init container) of a pod by name. */
export function containerOf(pod: PodSpec, name: string): Container {
  const found = [...pod.containers, ...(pod.initContainers ?? [])].find((c) => c.name === name);
  if (!found) throw new Error(`fixture has no container ${name}`);
  return found;
}

/** The security context of a container (created when missing). */
export function securityOf(container: Container) {
  container.securityContext ??= {};
  return container.securityContext;
}
