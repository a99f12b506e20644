/**
 * Istio for the fleet, in sidecar mode with the Istio CNI node agent: installing Istio (optional),
 * the fleet namespace's security posture (mTLS STRICT, deny-by-default AuthorizationPolicies), the
 * sync path's routing (header routing by task type, canary weights, retries only where nothing
 * ran, timeouts from each agent's task timeout), circuit breaking, and the router's ingress.
 *
 * Why sidecars with CNI and not ambient: the sync path's L7 features (header match, weighted
 * subsets, retries, outlier detection) run in the client's sidecar or the ingress gateway as they
 * always have; ambient needs a waypoint proxy per namespace for any of them. Why CNI: without it
 * the injector adds an `istio-init` container with NET_ADMIN and NET_RAW, which Pod Security
 * `restricted` (the fleet namespace's level) rejects; with it, pods get a validation init
 * container that runs non-root with every capability dropped, and only the CNI DaemonSet (in
 * istio-system, labelled privileged) touches the nodes' networking.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArgsProblems } from "../../lib/args";
import {
  AGENT_PORT,
  agentResourceName,
  fleetLabels,
  REDIS_NAME,
  REDIS_PORT,
  REDIS_SELECTOR,
  ROUTER_NAME,
  ROUTER_SELECTOR,
  TRACK_LABEL,
} from "./conventions";

/** Retry policy of the sync path (stack config `mesh.istio.retries`). */
export interface MeshRetries {
  attempts: number;
  /** Envoy retry conditions; stack config admits only SAFE_RETRY_CONDITIONS (agent-runtime contract). */
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

/** The router's public entry: an Istio ingress gateway terminating TLS for `host`. */
export interface MeshIngress {
  host: string;
  /** A TLS Secret in the gateway's namespace, or a cert-manager issuer that makes one. */
  tls: { secretName: string } | { issuer: { name: string; kind: "ClusterIssuer" | "Issuer" } };
}

/** Installing Istio: the charts below at ISTIO_VERSION, with the CNI node agent. */
export interface IstioInstall {
  revision?: string;
  /** The cluster platform Istio's charts know (their platform profile sets the CNI folders). */
  platform?: "gke" | "k3s";
  /** CNI folders on the nodes, when not the platform profile's (or for a plain cluster). */
  cni?: { binDir?: string; confDir?: string };
}

export interface FleetMeshArgs {
  namespace: pulumi.Input<string>;
  /** Agents, the task types routed to each by the `task-type` header, and their task timeout. */
  agents: { name: string; taskTypes: string[]; taskTimeoutSeconds: number }[];
  retries: MeshRetries;
  circuitBreaker: MeshCircuitBreaker;
  /** Send `weight` percent of an agent's sync traffic to its canary track. */
  canary?: { agent: string; weight: number };
  /** Install Istio (base, istiod, CNI, and the ingress gateway when `ingress` is set). */
  install?: IstioInstall;
  ingress?: MeshIngress;
  /** Namespaces whose workloads may call the router in the mesh (the ingress gateway always may). */
  routerClientNamespaces: string[];
}

/**
 * The Istio release the stacks install, one version for all four charts. The e2e suite's injector
 * (istioctl) is built from Istio's master of 2026-08-27, the 1.31 release in the making (API at
 * 1.31.0-rc.0; test/e2e/README.md), so what it checks is this release's injection template.
 */
export const ISTIO_VERSION = "1.31.0";
export const ISTIO_CHART_REPO = "https://istio-release.storage.googleapis.com/charts";
export const ISTIO_SYSTEM_NAMESPACE = "istio-system";
export const ISTIO_INGRESS_NAMESPACE = "istio-ingress";
/** The gateway chart's release: also its ServiceAccount and, without `istio-`, its `istio` label. */
export const INGRESS_GATEWAY = "istio-ingressgateway";
export const ROUTER_GATEWAY = "task-router";
/** The header the sync path routes on. */
export const TASK_TYPE_HEADER = "task-type";
/** Added to an agent's task timeout for the mesh's request timeout (connection, queueing). */
export const MESH_TIMEOUT_MARGIN_SECONDS = 5;
/** The router answers a submission at once; its route gets this timeout. */
export const ROUTER_TIMEOUT_SECONDS = 30;
/** Where a sidecar serves the app's and its own metrics merged (Istio's metrics merging). */
export const MERGED_METRICS_PORT = 15020;

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
  args.agents.forEach((a, i) => {
    if (!(Number.isInteger(a.taskTimeoutSeconds) && a.taskTimeoutSeconds >= 1)) {
      problems.add(
        `agents[${i}].taskTimeoutSeconds`,
        `must be a whole number >= 1 (got ${a.taskTimeoutSeconds})`,
      );
    }
  });
  problems.throwIfAny();
}

// ---------------------------------------------------------------- installation

/**
 * What the injector runs with: the mesh config and the values of the istiod chart that shape
 * injected pods. The e2e suite injects the staging and prod pods with exactly these.
 */
export function injectionSettings(install: IstioInstall): {
  meshConfig: Record<string, unknown>;
  values: Record<string, unknown>;
} {
  return {
    meshConfig: { accessLogFile: "/dev/stdout", enablePrometheusMerge: true },
    values: {
      ...(install.platform ? { global: { platform: install.platform } } : {}),
      // Sidecars wait for their proxy: the runtime connects to Redis through it at start.
      pilot: { cni: { enabled: true } },
      ...(install.revision ? { revision: install.revision } : {}),
    },
  };
}

function mergeProxyHold(values: Record<string, unknown>): Record<string, unknown> {
  const global = (values.global ?? {}) as Record<string, unknown>;
  return { ...values, global: { ...global, proxy: { holdApplicationUntilProxyStarts: true } } };
}

/** Values of the istiod chart. */
export function istiodValues(install: IstioInstall): Record<string, unknown> {
  const { meshConfig, values } = injectionSettings(install);
  return { ...mergeProxyHold(values), meshConfig };
}

/** Values of the cni chart: the platform profile's folders unless given. */
export function cniValues(install: IstioInstall): Record<string, unknown> {
  const folders = {
    ...(install.cni?.binDir ? { cniBinDir: install.cni.binDir } : {}),
    ...(install.cni?.confDir ? { cniConfDir: install.cni.confDir } : {}),
  };
  return {
    ...(install.platform ? { global: { platform: install.platform } } : {}),
    ...(Object.keys(folders).length ? { cni: folders } : {}),
  };
}

/** Values of the gateway chart: its pods run as the fleet's do (Pod Security `restricted`). */
export function gatewayValues(): Record<string, unknown> {
  return {
    service: { type: "LoadBalancer" },
    securityContext: {
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
      // Listens on 80/443 without a capability (a safe sysctl, allowed by `restricted`).
      sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }],
    },
    containerSecurityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    },
  };
}

// ---------------------------------------------------------------- routing

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The sync path's timeout for one agent: its longest task and a margin. */
export function agentRouteTimeout(taskTimeoutSeconds: number): string {
  return `${taskTimeoutSeconds + MESH_TIMEOUT_MARGIN_SECONDS}s`;
}

/**
 * The VirtualService of the router's host (and the public host, through the gateway): a request
 * with a `task-type` header goes straight to that agent's Service (stable/canary split by
 * weight); anything else reaches the router pods. Retries only on SAFE_RETRY_CONDITIONS, with a
 * per-try timeout equal to the request's: a slow task is never re-run by the mesh.
 */
export function virtualServiceSpec(
  args: Pick<FleetMeshArgs, "agents" | "retries" | "canary" | "ingress">,
): Record<string, unknown> {
  const retries = (timeout: string) =>
    args.retries.attempts > 0
      ? { attempts: args.retries.attempts, retryOn: args.retries.retryOn, perTryTimeout: timeout }
      : { attempts: 0 };
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
    const timeout = agentRouteTimeout(a.taskTimeoutSeconds);
    return {
      name: a.name,
      match: [
        { headers: { [TASK_TYPE_HEADER]: { regex: `^(${a.taskTypes.map(escapeRegex).join("|")})$` } } },
      ],
      route,
      timeout,
      retries: retries(timeout),
    };
  });
  const routerTimeout = `${ROUTER_TIMEOUT_SECONDS}s`;
  return {
    hosts: [ROUTER_NAME, ...(args.ingress ? [args.ingress.host] : [])],
    ...(args.ingress ? { gateways: ["mesh", `${ISTIO_INGRESS_NAMESPACE}/${ROUTER_GATEWAY}`] } : {}),
    http: [
      ...http,
      {
        name: "router",
        route: [{ destination: { host: ROUTER_NAME } }],
        timeout: routerTimeout,
        retries: retries(routerTimeout),
      },
    ],
  };
}

/** Mutual TLS with the mesh's certificates, on every connection to the fleet's Services. */
const ISTIO_MUTUAL = { tls: { mode: "ISTIO_MUTUAL" } };

/** Per-agent DestinationRule: mTLS, connection-pool limits, outlier detection, stable/canary subsets. */
export function destinationRuleSpec(
  agent: string,
  cb: MeshCircuitBreaker,
  canary: boolean,
): Record<string, unknown> {
  return {
    host: agentResourceName(agent),
    trafficPolicy: {
      ...ISTIO_MUTUAL,
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

/** The ingress Gateway: HTTPS for the router's host (and HTTP redirected to it). */
export function gatewaySpec(ingress: MeshIngress): Record<string, unknown> {
  return {
    selector: { istio: INGRESS_GATEWAY.replace(/^istio-/, "") },
    servers: [
      {
        port: { number: 443, name: "https", protocol: "HTTPS" },
        hosts: [ingress.host],
        tls: { mode: "SIMPLE", credentialName: tlsSecretName(ingress) },
      },
      {
        port: { number: 80, name: "http", protocol: "HTTP" },
        hosts: [ingress.host],
        tls: { httpsRedirect: true },
      },
    ],
  };
}

/** The TLS Secret the gateway serves: the given one, or the one cert-manager writes. */
export function tlsSecretName(ingress: MeshIngress): string {
  return "secretName" in ingress.tls ? ingress.tls.secretName : `${ROUTER_GATEWAY}-tls`;
}

// ---------------------------------------------------------------- security posture

/** The SPIFFE identity of a ServiceAccount, as AuthorizationPolicies name callers. */
export function principal(namespace: string, serviceAccount: string): string {
  return `cluster.local/ns/${namespace}/sa/${serviceAccount}`;
}

/**
 * The fleet namespace's AuthorizationPolicies: nothing is allowed unless a rule below allows it.
 * - agents: their HTTP port only from the router's pods and the ingress gateway (the sync path);
 *   Prometheus reads the sidecar's merged metrics port, which the sidecar does not intercept.
 * - Redis: only from queue clients (the agents' and the router's ServiceAccounts).
 * - the router: from the ingress gateway and the namespaces listed in routerClientNamespaces.
 */
export function authorizationPolicySpecs(
  namespace: string,
  args: Pick<FleetMeshArgs, "routerClientNamespaces">,
): Record<string, Record<string, unknown>> {
  const gateway = principal(ISTIO_INGRESS_NAMESPACE, INGRESS_GATEWAY);
  const router = principal(namespace, ROUTER_NAME);
  return {
    "deny-by-default": {},
    "agents-from-router-and-gateway": {
      selector: { matchLabels: { "app.kubernetes.io/component": "agent" } },
      action: "ALLOW",
      rules: [
        {
          from: [{ source: { principals: [router, gateway] } }],
          to: [{ operation: { ports: [String(AGENT_PORT)] } }],
        },
      ],
    },
    "redis-from-queue-clients": {
      selector: { matchLabels: REDIS_SELECTOR },
      action: "ALLOW",
      rules: [
        {
          // Agents' ServiceAccounts are agent-<type> (and agent-<type>-canary); the router's its name.
          from: [{ source: { principals: [principal(namespace, "agent-*"), router] } }],
          to: [{ operation: { ports: [String(REDIS_PORT)] } }],
        },
      ],
    },
    "router-from-gateway-and-clients": {
      selector: { matchLabels: ROUTER_SELECTOR },
      action: "ALLOW",
      rules: [
        {
          from: [{ source: { principals: [gateway] } }],
          to: [{ operation: { ports: [String(AGENT_PORT)] } }],
        },
        ...(args.routerClientNamespaces.length
          ? [
              {
                from: [{ source: { namespaces: args.routerClientNamespaces } }],
                to: [{ operation: { ports: [String(AGENT_PORT)] } }],
              },
            ]
          : []),
      ],
    },
  };
}

/** Istio for the fleet (and, optionally, Istio itself). */
export class FleetMesh extends pulumi.ComponentResource {
  constructor(name: string, args: FleetMeshArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:FleetMesh", name, {}, opts);
    validateFleetMeshArgs(name, args);
    const labels = fleetLabels("mesh");
    const deps: pulumi.Resource[] = [];
    if (args.install) deps.push(...this.installIstio(name, args.install, args.ingress !== undefined));

    const namespace = args.namespace;
    const custom = (
      role: string,
      kind: string,
      group: string,
      metaName: string,
      spec: pulumi.Input<Record<string, unknown>>,
      ns: pulumi.Input<string> = namespace,
    ) =>
      new k8s.apiextensions.CustomResource(
        `${name}-${role}`,
        { apiVersion: `${group}/v1`, kind, metadata: { name: metaName, namespace: ns, labels }, spec },
        { parent: this, dependsOn: deps },
      );

    // Every workload of the namespace accepts mutual TLS only.
    custom("mtls", "PeerAuthentication", "security.istio.io", "default", { mtls: { mode: "STRICT" } });
    const policies = pulumi.output(namespace).apply((ns) => authorizationPolicySpecs(ns, args));
    for (const policy of Object.keys(authorizationPolicySpecs("-", args))) {
      custom(
        `authz-${policy}`,
        "AuthorizationPolicy",
        "security.istio.io",
        policy,
        policies.apply((p) => p[policy] ?? {}),
      );
    }

    custom("routes", "VirtualService", "networking.istio.io", ROUTER_NAME, virtualServiceSpec(args));
    for (const agent of args.agents) {
      custom(
        `${agent.name}-rule`,
        "DestinationRule",
        "networking.istio.io",
        agentResourceName(agent.name),
        destinationRuleSpec(agent.name, args.circuitBreaker, args.canary?.agent === agent.name),
      );
    }
    for (const host of [ROUTER_NAME, REDIS_NAME]) {
      custom(`${host}-rule`, "DestinationRule", "networking.istio.io", host, {
        host,
        trafficPolicy: ISTIO_MUTUAL,
      });
    }

    if (args.ingress) {
      const ingress = args.ingress;
      custom(
        "gateway",
        "Gateway",
        "networking.istio.io",
        ROUTER_GATEWAY,
        gatewaySpec(ingress),
        ISTIO_INGRESS_NAMESPACE,
      );
      if ("issuer" in ingress.tls) {
        new k8s.apiextensions.CustomResource(
          `${name}-certificate`,
          {
            apiVersion: "cert-manager.io/v1",
            kind: "Certificate",
            metadata: { name: `${ROUTER_GATEWAY}-tls`, namespace: ISTIO_INGRESS_NAMESPACE, labels },
            spec: {
              secretName: tlsSecretName(ingress),
              dnsNames: [ingress.host],
              issuerRef: { name: ingress.tls.issuer.name, kind: ingress.tls.issuer.kind },
            },
          },
          { parent: this, dependsOn: deps },
        );
      }
    }
    this.registerOutputs({});
  }

  /** istio-system (privileged: the CNI DaemonSet), base, istiod, cni; istio-ingress and its gateway. */
  private installIstio(name: string, install: IstioInstall, withGateway: boolean): pulumi.Resource[] {
    const labels = fleetLabels("mesh");
    const namespace = (role: string, ns: string, level: "privileged" | "restricted") =>
      new k8s.core.v1.Namespace(
        `${name}-${role}`,
        {
          metadata: {
            name: ns,
            labels: {
              ...labels,
              "pod-security.kubernetes.io/enforce": level,
              "pod-security.kubernetes.io/warn": "restricted",
            },
          },
        },
        { parent: this },
      );
    const release = (
      releaseName: string,
      chart: string,
      ns: k8s.core.v1.Namespace,
      values: Record<string, unknown>,
      dependsOn: pulumi.Resource[] = [],
    ) =>
      new k8s.helm.v3.Release(
        `${name}-${releaseName}`,
        {
          name: releaseName,
          chart,
          version: ISTIO_VERSION,
          namespace: ns.metadata.name,
          repositoryOpts: { repo: ISTIO_CHART_REPO },
          values,
        },
        { parent: this, dependsOn },
      );
    // The CNI node agent writes the nodes' CNI config and runs with host networking: the one part
    // of the mesh that needs `privileged`, so istio-system says so and nothing else does.
    const system = namespace("istio-system", ISTIO_SYSTEM_NAMESPACE, "privileged");
    const base = release("istio-base", "base", system, { defaultRevision: install.revision ?? "default" });
    const cni = release("istio-cni", "cni", system, cniValues(install), [base]);
    const istiod = release("istiod", "istiod", system, istiodValues(install), [base, cni]);
    const parts: pulumi.Resource[] = [base, cni, istiod];
    if (withGateway) {
      const ingress = namespace("istio-ingress", ISTIO_INGRESS_NAMESPACE, "restricted");
      parts.push(release(INGRESS_GATEWAY, "gateway", ingress, gatewayValues(), [istiod]));
    }
    return parts;
  }
}
