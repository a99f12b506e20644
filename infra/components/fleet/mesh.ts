import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArgsProblems } from "../../lib/args";
import { agentResourceName, fleetLabels, ROUTER_NAME, TRACK_LABEL } from "./conventions";

/** Retry policy of the sync path (stack config `mesh.istio.retries` has the defaults). */
export interface MeshRetries {
  attempts: number;
  perTryTimeout: string;
  retryOn: string;
}

/** Outlier detection and connection-pool limits per agent Service (`mesh.istio.circuitBreaker`). */
export interface MeshCircuitBreaker {
  consecutive5xxErrors: number;
  interval: string;
  baseEjectionTime: string;
  maxEjectionPercent: number;
  maxPendingRequests: number;
  maxRequestsPerConnection: number;
}

export interface FleetMeshArgs {
  namespace: pulumi.Input<string>;
  /** Agents and the task types routed to each by the `task-type` header. */
  agents: { name: string; taskTypes: string[] }[];
  retries: MeshRetries;
  circuitBreaker: MeshCircuitBreaker;
  /** Send `weight` percent of an agent's sync traffic to its canary track. */
  canary?: { agent: string; weight: number };
  /** Install istio-base and istiod with Helm (chart version below). */
  install?: { version?: string; revision?: string };
}

/** Istio charts pinned here; change with care (CRDs upgrade with istio-base). */
export const ISTIO_CHART_VERSION = "1.27.3";
export const ISTIO_CHART_REPO = "https://istio-release.storage.googleapis.com/charts";
/** The header the sync path routes on. */
export const TASK_TYPE_HEADER = "task-type";

/** Validates FleetMeshArgs; throws ComponentArgsError listing every problem by property path. */
export function validateFleetMeshArgs(name: string, args: FleetMeshArgs): void {
  const problems = new ArgsProblems("FleetMesh", name);
  if (args.canary) {
    if (!(args.canary.weight >= 0 && args.canary.weight <= 100)) {
      problems.add("canary.weight", `must be from 0 to 100 (got ${args.canary.weight})`);
    }
    if (!args.agents.some((a) => a.name === args.canary?.agent)) {
      problems.add("canary.agent", `"${args.canary.agent}" is not one of the fleet's agents`);
    }
  }
  problems.throwIfAny();
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The VirtualService for the mesh host `task-router`: a request with a `task-type` header goes
 * straight to that agent's Service (stable/canary split by weight), with retries; anything else
 * reaches the router pods.
 */
export function virtualServiceSpec(
  args: Omit<FleetMeshArgs, "namespace" | "install">,
): Record<string, unknown> {
  const retries = {
    attempts: args.retries.attempts,
    perTryTimeout: args.retries.perTryTimeout,
    retryOn: args.retries.retryOn,
  };
  const http = args.agents.map((a) => {
    const host = agentResourceName(a.name);
    const weight = args.canary?.agent === a.name ? args.canary.weight : 0;
    const route =
      weight > 0
        ? [
            { destination: { host, subset: "stable" }, weight: 100 - weight },
            { destination: { host, subset: "canary" }, weight },
          ]
        : [{ destination: { host, subset: "stable" } }];
    return {
      name: a.name,
      match: [
        { headers: { [TASK_TYPE_HEADER]: { regex: `^(${a.taskTypes.map(escapeRegex).join("|")})$` } } },
      ],
      route,
      retries,
    };
  });
  return {
    hosts: [ROUTER_NAME],
    http: [...http, { name: "router", route: [{ destination: { host: ROUTER_NAME } }], retries }],
  };
}

/** Per-agent DestinationRule: connection-pool limits, outlier detection, stable/canary subsets. */
export function destinationRuleSpec(
  agent: string,
  cb: MeshCircuitBreaker,
  canary: boolean,
): Record<string, unknown> {
  return {
    host: agentResourceName(agent),
    trafficPolicy: {
      connectionPool: {
        http: {
          http1MaxPendingRequests: cb.maxPendingRequests,
          maxRequestsPerConnection: cb.maxRequestsPerConnection,
        },
      },
      outlierDetection: {
        consecutive5xxErrors: cb.consecutive5xxErrors,
        interval: cb.interval,
        baseEjectionTime: cb.baseEjectionTime,
        maxEjectionPercent: cb.maxEjectionPercent,
      },
    },
    subsets: [
      { name: "stable", labels: { [TRACK_LABEL]: "stable" } },
      ...(canary ? [{ name: "canary", labels: { [TRACK_LABEL]: "canary" } }] : []),
    ],
  };
}

/** Istio routing for the fleet (and, optionally, Istio itself). */
export class FleetMesh extends pulumi.ComponentResource {
  constructor(name: string, args: FleetMeshArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:FleetMesh", name, {}, opts);
    validateFleetMeshArgs(name, args);
    const labels = fleetLabels("mesh");
    const deps: pulumi.Resource[] = [];
    if (args.install) {
      const version = args.install.version ?? ISTIO_CHART_VERSION;
      const ns = new k8s.core.v1.Namespace(
        `${name}-istio-system`,
        {
          metadata: {
            name: "istio-system",
            // istiod's CNI-less sidecar injection needs more than `restricted`; say so explicitly.
            labels: {
              ...labels,
              "pod-security.kubernetes.io/enforce": "privileged",
              "pod-security.kubernetes.io/warn": "restricted",
            },
          },
        },
        { parent: this },
      );
      const base = new k8s.helm.v3.Release(
        `${name}-istio-base`,
        {
          name: "istio-base",
          chart: "base",
          version,
          namespace: ns.metadata.name,
          repositoryOpts: { repo: ISTIO_CHART_REPO },
          values: { defaultRevision: args.install.revision ?? "default" },
        },
        { parent: this },
      );
      const istiod = new k8s.helm.v3.Release(
        `${name}-istiod`,
        {
          name: "istiod",
          chart: "istiod",
          version,
          namespace: ns.metadata.name,
          repositoryOpts: { repo: ISTIO_CHART_REPO },
          values: {
            ...(args.install.revision ? { revision: args.install.revision } : {}),
            global: { proxy: { holdApplicationUntilProxyStarts: true } },
            meshConfig: { accessLogFile: "/dev/stdout" },
          },
        },
        { parent: this, dependsOn: [base] },
      );
      deps.push(base, istiod);
    }
    new k8s.apiextensions.CustomResource(
      `${name}-routes`,
      {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name: ROUTER_NAME, namespace: args.namespace, labels },
        spec: virtualServiceSpec(args),
      },
      { parent: this, dependsOn: deps },
    );
    for (const agent of args.agents) {
      new k8s.apiextensions.CustomResource(
        `${name}-${agent.name}-rule`,
        {
          apiVersion: "networking.istio.io/v1",
          kind: "DestinationRule",
          metadata: { name: agentResourceName(agent.name), namespace: args.namespace, labels },
          spec: destinationRuleSpec(agent.name, args.circuitBreaker, args.canary?.agent === agent.name),
        },
        { parent: this, dependsOn: deps },
      );
    }
    this.registerOutputs({});
  }
}
