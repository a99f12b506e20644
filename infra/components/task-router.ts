import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { AGENT_PORT, runtimeProbes } from "./agent-pool-spec";
import type { QueueConnection } from "./agent-pool";
import {
  containerSecurityContext,
  fleetLabels,
  podSecurityContext,
  QUEUE_CLIENT_LABEL,
  scratchVolume,
} from "./pod-security";

export interface TaskRouterArgs {
  namespace: pulumi.Input<string>;
  /** Router image (the Dockerfile's `router` target); prefer a digest reference. */
  image: pulumi.Input<string>;
  queue: QueueConnection;
  /** Router pods. Default 2. */
  replicas?: number;
  /** `required` (default): bearer tokens; `disabled`: open, for local clusters only. */
  auth?: "required" | "disabled";
  /** Comma-separated bearer tokens (a Pulumi secret). Default: one 40-character token generated here. */
  tokens?: pulumi.Input<string>;
  resources?: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
  logLevel?: string;
  imagePullSecrets?: pulumi.Input<string>[];
  podAnnotations?: Record<string, string>;
}

export const ROUTER_NAME = "task-router";
const TOKENS_DIR = "/etc/agent-fleet/router";

export function validateTaskRouterArgs(args: TaskRouterArgs): void {
  if (args.replicas !== undefined && (!Number.isInteger(args.replicas) || args.replicas < 1)) {
    throw new Error(`TaskRouterArgs.replicas: must be a whole number >= 1 (got ${args.replicas})`);
  }
}

/** The task router: Deployment + Service `task-router`, bearer tokens from a Secret mounted as a file. */
export class TaskRouter extends pulumi.ComponentResource {
  /** In-cluster URL of the router. */
  readonly url: pulumi.Output<string>;
  /** The bearer tokens (secret). */
  readonly tokens: pulumi.Output<string>;

  constructor(name: string, args: TaskRouterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:TaskRouter", name, {}, opts);
    validateTaskRouterArgs(args);
    const child = { parent: this };
    const namespace = args.namespace;
    const selector = { "app.kubernetes.io/name": ROUTER_NAME };
    const labels = { ...fleetLabels("router"), ...selector, [QUEUE_CLIENT_LABEL]: "true" };
    const auth = args.auth ?? "required";
    const replicas = args.replicas ?? 2;

    this.tokens = pulumi.secret(
      args.tokens ?? new random.RandomPassword(`${name}-token`, { length: 40, special: false }, child).result,
    );
    const tokenSecret = new k8s.core.v1.Secret(
      `${name}-tokens`,
      {
        metadata: { name: `${ROUTER_NAME}-tokens`, namespace, labels },
        type: "Opaque",
        // One token per line, as the router reads ROUTER_TOKENS_FILE.
        stringData: {
          tokens: this.tokens.apply((t) =>
            t
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
              .join("\n"),
          ),
        },
      },
      child,
    );
    const sa = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name: ROUTER_NAME, namespace, labels }, automountServiceAccountToken: false },
      child,
    );
    const tmp = scratchVolume();
    const env: k8s.types.input.core.v1.EnvVar[] = [
      { name: "PORT", value: String(AGENT_PORT) },
      { name: "REDIS_URL", value: args.queue.url },
      { name: "QUEUE_PREFIX", value: args.queue.prefix ?? "fleet" },
      { name: "ROUTER_AUTH", value: auth },
      { name: "ROUTER_TOKENS_FILE", value: `${TOKENS_DIR}/tokens` },
      { name: "LOG_LEVEL", value: args.logLevel ?? "info" },
      ...(args.queue.password
        ? [{ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: args.queue.password } }]
        : []),
    ];
    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: { name: ROUTER_NAME, namespace, labels },
        spec: {
          replicas,
          selector: { matchLabels: selector },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            metadata: {
              labels,
              annotations: {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": String(AGENT_PORT),
                "prometheus.io/path": "/metrics",
                ...args.podAnnotations,
              },
            },
            spec: {
              serviceAccountName: sa.metadata.name,
              automountServiceAccountToken: false,
              securityContext: podSecurityContext(),
              terminationGracePeriodSeconds: 30,
              ...(args.imagePullSecrets?.length
                ? { imagePullSecrets: args.imagePullSecrets.map((n) => ({ name: n })) }
                : {}),
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: "kubernetes.io/hostname",
                  whenUnsatisfiable: "ScheduleAnyway",
                  labelSelector: { matchLabels: selector },
                },
              ],
              containers: [
                {
                  name: "router",
                  image: args.image,
                  args: ["router"],
                  ports: [{ name: "http", containerPort: AGENT_PORT }],
                  env,
                  resources: args.resources ?? {
                    requests: { cpu: "250m", memory: "256Mi" },
                    limits: { cpu: "1", memory: "512Mi" },
                  },
                  securityContext: containerSecurityContext(),
                  volumeMounts: [tmp.mount, { name: "tokens", mountPath: TOKENS_DIR, readOnly: true }],
                  ...runtimeProbes(),
                },
              ],
              volumes: [
                tmp.volume,
                { name: "tokens", secret: { secretName: tokenSecret.metadata.name, defaultMode: 0o440 } },
              ],
            },
          },
        },
      },
      child,
    );
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: ROUTER_NAME, namespace, labels },
        spec: { selector, ports: [{ name: "http", port: 80, targetPort: "http", appProtocol: "http" }] },
      },
      child,
    );
    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      {
        metadata: { name: ROUTER_NAME, namespace, labels },
        spec: {
          selector: { matchLabels: selector },
          ...(replicas >= 2 ? { minAvailable: 1 } : { maxUnavailable: 1 }),
        },
      },
      child,
    );
    this.url = pulumi.interpolate`http://${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
    this.registerOutputs({ url: this.url });
  }
}
