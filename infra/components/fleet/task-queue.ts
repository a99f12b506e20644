import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DEFAULT_QUEUE_PREFIX } from "../../../agent-runtime/src/contract";
import type { ResourceSpec } from "../../catalog";
import { ArgsProblems } from "../../lib/args";
import type { QueueConnection } from "./agent-pool";
import {
  containerSecurityContext,
  fleetLabels,
  QUEUE_CLIENT_LABEL,
  REDIS_NAME,
  REDIS_PORT,
  REDIS_UID,
  REDIS_SELECTOR,
} from "./conventions";

export type QueuePersistence = "aof-always" | "aof-everysec" | "none";

export type TaskQueueArgs = {
  namespace: pulumi.Input<string>;
} & (
  | {
      mode: "in-cluster";
      /** `aof-always`: fsync per write; `aof-everysec`: up to ~1 s lost on a crash; `none`: memory only. */
      persistence: QueuePersistence;
      /** Redis image; pin by digest in production. */
      image: string;
      storage: { size: string; storageClass?: string };
      resources: { requests: ResourceSpec; limits: ResourceSpec };
    }
  | {
      mode: "managed";
      /** redis:// or rediss:// URL without the password. */
      url: pulumi.Input<string>;
      /** The managed instance's password (a Pulumi secret). */
      password: pulumi.Input<string>;
    }
);

/** redis-server flags per persistence setting. `noeviction`: a queue must never drop keys under memory pressure. */
export function redisArgs(persistence: QueuePersistence): string[] {
  const base = [
    "--port",
    String(REDIS_PORT),
    "--dir",
    "/data",
    "--maxmemory-policy",
    "noeviction",
    "--requirepass",
    "$(REDIS_PASSWORD)",
  ];
  switch (persistence) {
    case "aof-always":
      return [...base, "--appendonly", "yes", "--appendfsync", "always", "--save", ""];
    case "aof-everysec":
      return [...base, "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""];
    case "none":
      return [...base, "--appendonly", "no", "--save", ""];
  }
}

/** Validates TaskQueueArgs; throws ComponentArgsError listing every problem by property path. */
export function validateTaskQueueArgs(name: string, args: TaskQueueArgs): void {
  const problems = new ArgsProblems("TaskQueue", name);
  if (args.mode === "managed" && typeof args.url === "string" && !/^rediss?:\/\/[^@\s]+$/.test(args.url)) {
    problems.add(
      "url",
      `expected redis://host:port or rediss://host:port without credentials (got "${args.url}")`,
    );
  }
  if (args.mode === "in-cluster" && args.image.trim() === "") problems.add("image", "must not be empty");
  problems.throwIfAny();
}

/**
 * The Redis task queue: an in-cluster StatefulSet (AOF per config, password from a generated
 * Pulumi secret, PVC, PDB, a NetworkPolicy admitting only queue clients) or a managed endpoint.
 */
export class TaskQueue extends pulumi.ComponentResource {
  /** What agents and the router use to connect. */
  readonly connection: QueueConnection;
  /** `host:port` of the queue (no credentials). */
  readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: TaskQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:TaskQueue", name, {}, opts);
    validateTaskQueueArgs(name, args);
    const child = { parent: this };
    const namespace = args.namespace;
    const labels = fleetLabels("queue", { "app.kubernetes.io/name": REDIS_NAME });
    const selector = REDIS_SELECTOR;

    const password =
      args.mode === "managed"
        ? pulumi.secret(args.password)
        : new random.RandomPassword(`${name}-password`, { length: 32, special: false }, child).result;
    const secret = new k8s.core.v1.Secret(
      `${name}-auth`,
      { metadata: { name: "redis-auth", namespace, labels }, type: "Opaque", stringData: { password } },
      child,
    );
    const passwordRef = { name: secret.metadata.name, key: "password" };

    if (args.mode === "managed") {
      const url = pulumi.output(args.url);
      this.connection = { url, password: passwordRef, prefix: DEFAULT_QUEUE_PREFIX };
      this.endpoint = url.apply((u) => u.replace(/^rediss?:\/\//, "").replace(/\/.*$/, ""));
      this.registerOutputs({ endpoint: this.endpoint });
      return;
    }

    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: REDIS_NAME, namespace, labels },
        spec: { selector, ports: [{ name: "redis", port: REDIS_PORT, targetPort: "redis" }] },
      },
      child,
    );
    const headless = new k8s.core.v1.Service(
      `${name}-headless`,
      {
        metadata: { name: "redis-headless", namespace, labels },
        spec: {
          clusterIP: "None",
          selector,
          ports: [{ name: "redis", port: REDIS_PORT, targetPort: "redis" }],
        },
      },
      child,
    );
    const ping = ["sh", "-c", 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" ping | grep -q PONG'];
    const persistent = args.persistence !== "none";
    new k8s.apps.v1.StatefulSet(
      `${name}-redis`,
      {
        metadata: { name: REDIS_NAME, namespace, labels },
        spec: {
          replicas: 1,
          serviceName: headless.metadata.name,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels: { ...labels, ...selector } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: REDIS_UID,
                runAsGroup: REDIS_UID,
                fsGroup: REDIS_UID,
                seccompProfile: { type: "RuntimeDefault" },
              },
              terminationGracePeriodSeconds: 30,
              containers: [
                {
                  name: REDIS_NAME,
                  image: args.image,
                  command: ["redis-server"],
                  args: redisArgs(args.persistence),
                  env: [{ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: passwordRef } }],
                  ports: [{ name: "redis", containerPort: REDIS_PORT }],
                  resources: args.resources,
                  securityContext: containerSecurityContext(REDIS_UID),
                  volumeMounts: [
                    { name: "data", mountPath: "/data" },
                    { name: "tmp", mountPath: "/tmp" },
                  ],
                  readinessProbe: { exec: { command: ping }, periodSeconds: 5, timeoutSeconds: 3 },
                  livenessProbe: { tcpSocket: { port: "redis" }, periodSeconds: 10, failureThreshold: 6 },
                },
              ],
              volumes: [
                { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
                ...(persistent ? [] : [{ name: "data", emptyDir: { sizeLimit: args.storage.size } }]),
              ],
            },
          },
          ...(persistent
            ? {
                volumeClaimTemplates: [
                  {
                    metadata: { name: "data", labels },
                    spec: {
                      accessModes: ["ReadWriteOnce"],
                      ...(args.storage.storageClass ? { storageClassName: args.storage.storageClass } : {}),
                      resources: { requests: { storage: args.storage.size } },
                    },
                  },
                ],
              }
            : {}),
        },
      },
      child,
    );
    // A single Redis may be evicted: a node drain, upgrade or scale-down never waits on it. Its AOF
    // is on the claim, so it comes back with the queue on another node; workers and the router
    // reconnect, and leases that expire meanwhile are redelivered (docs/operations.md).
    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      {
        metadata: { name: REDIS_NAME, namespace, labels },
        spec: { selector: { matchLabels: selector }, maxUnavailable: 1 },
      },
      child,
    );
    new k8s.networking.v1.NetworkPolicy(
      `${name}-ingress`,
      {
        metadata: { name: "redis-ingress", namespace, labels },
        spec: {
          podSelector: { matchLabels: selector },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: [{ podSelector: { matchLabels: { [QUEUE_CLIENT_LABEL]: "true" } } }],
              ports: [{ protocol: "TCP", port: REDIS_PORT }],
            },
          ],
        },
      },
      child,
    );

    const host = pulumi.interpolate`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
    this.endpoint = pulumi.interpolate`${host}:${REDIS_PORT}`;
    this.connection = {
      url: pulumi.interpolate`redis://${host}:${REDIS_PORT}/0`,
      password: passwordRef,
      prefix: DEFAULT_QUEUE_PREFIX,
    };
    this.registerOutputs({ endpoint: this.endpoint });
  }
}
