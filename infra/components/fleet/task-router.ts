import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { RUNTIME_ENV } from "../../../agent-runtime/src/contract";
import type { ResourceSpec } from "../../catalog";
import { ArgsProblems } from "../../lib/args";
import type { QueueConnection } from "./agent-pool";
import {
  AGENT_PORT,
  containerSecurityContext,
  fleetLabels,
  podSecurityContext,
  QUEUE_CLIENT_LABEL,
  ROUTER_NAME,
  ROUTER_SELECTOR,
  scrapeAnnotations,
  scratchVolume,
  SERVICE_PORT,
  spreadOverNodes,
} from "./conventions";
import { runtimeProbes } from "./pod-spec";
import { tracingEnv, type TracingArgs } from "./tracing";

export interface TaskRouterArgs {
  namespace: pulumi.Input<string>;
  /** Router image (the Dockerfile's `router` target); prefer a digest reference. */
  image: pulumi.Input<string>;
  queue: QueueConnection;
  /** Router pods. */
  replicas: number;
  /** `required`: bearer tokens; `disabled`: open, for local clusters only. */
  auth: "required" | "disabled";
  /** Comma-separated bearer tokens (a Pulumi secret). Default: one 40-character token generated here. */
  tokens?: pulumi.Input<string>;
  resources: { requests: ResourceSpec; limits: ResourceSpec };
  /** Runtime log level. Unset: the runtime's default (info). */
  logLevel?: string;
  /** Trace export (AgentFleet's `tracing`). Unset: tracing off. */
  tracing?: TracingArgs;
  imagePullSecrets?: pulumi.Input<string>[];
  podAnnotations?: Record<string, string>;
}

/** Where the tokens Secret is mounted; the router reads `${TOKENS_DIR}/tokens`. */
const TOKENS_DIR = "/etc/agent-fleet/router";

/** Validates TaskRouterArgs; throws ComponentArgsError listing every problem by property path. */
export function validateTaskRouterArgs(name: string, args: TaskRouterArgs): void {
  const problems = new ArgsProblems("TaskRouter", name);
  if (!Number.isInteger(args.replicas) || args.replicas < 1) {
    problems.add("replicas", `must be a whole number >= 1 (got ${args.replicas})`);
  }
  if (typeof args.image === "string" && args.image.trim() === "") problems.add("image", "must not be empty");
  problems.throwIfAny();
}

/** The task router: Deployment + Service `task-router`, bearer tokens from a Secret mounted as a file. */
export class TaskRouter extends pulumi.ComponentResource {
  /** In-cluster URL of the router. */
  readonly url: pulumi.Output<string>;
  /** The bearer tokens (secret). */
  readonly tokens: pulumi.Output<string>;

  constructor(name: string, args: TaskRouterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:TaskRouter", name, {}, opts);
    validateTaskRouterArgs(name, args);
    const child = { parent: this };
    const namespace = args.namespace;
    const selector = ROUTER_SELECTOR;
    const labels = { ...fleetLabels("router"), ...selector, [QUEUE_CLIENT_LABEL]: "true" };
    const replicas = args.replicas;

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
      { name: RUNTIME_ENV.PORT, value: String(AGENT_PORT) },
      { name: RUNTIME_ENV.REDIS_URL, value: args.queue.url },
      { name: RUNTIME_ENV.QUEUE_PREFIX, value: args.queue.prefix },
      { name: RUNTIME_ENV.ROUTER_AUTH, value: args.auth },
      { name: RUNTIME_ENV.ROUTER_TOKENS_FILE, value: `${TOKENS_DIR}/tokens` },
      ...(args.logLevel !== undefined ? [{ name: RUNTIME_ENV.LOG_LEVEL, value: args.logLevel }] : []),
      ...Object.entries(tracingEnv(args.tracing, ROUTER_NAME)).map(([name, value]) => ({ name, value })),
      ...(args.queue.password
        ? [{ name: RUNTIME_ENV.REDIS_PASSWORD, valueFrom: { secretKeyRef: args.queue.password } }]
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
              annotations: { ...scrapeAnnotations(), ...args.podAnnotations },
            },
            spec: {
              serviceAccountName: sa.metadata.name,
              automountServiceAccountToken: false,
              securityContext: podSecurityContext(),
              terminationGracePeriodSeconds: 30,
              ...(args.imagePullSecrets?.length
                ? { imagePullSecrets: args.imagePullSecrets.map((n) => ({ name: n })) }
                : {}),
              topologySpreadConstraints: [spreadOverNodes(selector)],
              containers: [
                {
                  name: "router",
                  image: args.image,
                  args: ["router"],
                  ports: [{ name: "http", containerPort: AGENT_PORT }],
                  env,
                  resources: args.resources,
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
        spec: {
          selector,
          ports: [{ name: "http", port: SERVICE_PORT, targetPort: "http", appProtocol: "http" }],
        },
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
