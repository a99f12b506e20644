import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArgsProblems } from "../../lib/args";
import { MERGED_METRICS_PORT } from "./mesh";
import {
  AGENT_PORT,
  fleetLabels,
  QUEUE_CLIENT_LABEL,
  REDIS_NAME,
  REDIS_PORT,
  ROUTER_SELECTOR,
} from "./conventions";

type NetworkPolicySpec = k8s.types.input.networking.v1.NetworkPolicySpec;

export interface FleetNetworkPoliciesArgs {
  namespace: pulumi.Input<string>;
  /** Namespace Prometheus scrapes from (stack config `observability.prometheus.namespace`). */
  prometheusNamespace: string;
  /** Allow Istio sidecars to reach istiod (istio-system:15012) and the mesh's ports. */
  istio?: boolean;
  /** CIDRs LLM egress must not reach. Default: the private, link-local and CGNAT ranges. */
  privateCidrs?: string[];
  /** Port of a managed Redis outside the cluster; queue clients may reach it anywhere. */
  managedQueuePort?: number;
  /**
   * Where agents and the router send traces: the collector in `namespace` (installed by the
   * stack), or, without a namespace, an endpoint outside the cluster on `port`.
   */
  traceExport?: { namespace?: string; port: number };
}

const DEFAULT_PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"];
const byName = (ns: string) => ({
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } },
});
const agentPods = { matchLabels: { "app.kubernetes.io/component": "agent" } };
const routerPods = { matchLabels: ROUTER_SELECTOR };
const modelLoader = { matchLabels: { "app.kubernetes.io/component": "models" } };

/** Validates FleetNetworkPoliciesArgs; throws ComponentArgsError listing every problem by property path. */
export function validateFleetNetworkPoliciesArgs(name: string, args: FleetNetworkPoliciesArgs): void {
  const problems = new ArgsProblems("FleetNetworkPolicies", name);
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(args.prometheusNamespace)) {
    problems.add("prometheusNamespace", `"${args.prometheusNamespace}" is not a DNS-1123 label`);
  }
  const port = args.managedQueuePort;
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
    problems.add("managedQueuePort", `must be a port number from 1 to 65535 (got ${port})`);
  }
  const trace = args.traceExport;
  if (trace && !(Number.isInteger(trace.port) && trace.port >= 1 && trace.port <= 65535)) {
    problems.add("traceExport.port", `must be a port number from 1 to 65535 (got ${trace.port})`);
  }
  problems.throwIfAny();
}

/** The fleet's policies by name: deny everything, then allow exactly what the fleet needs. */
export function networkPolicySpecs(
  args: Omit<FleetNetworkPoliciesArgs, "namespace">,
): Record<string, NetworkPolicySpec> {
  const prometheus = args.prometheusNamespace;
  const internet = { ipBlock: { cidr: "0.0.0.0/0", except: args.privateCidrs ?? DEFAULT_PRIVATE } };
  const specs: Record<string, NetworkPolicySpec> = {
    "default-deny": { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    "allow-dns": {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ...byName("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    },
    "allow-queue-clients-to-redis": {
      podSelector: { matchLabels: { [QUEUE_CLIENT_LABEL]: "true" } },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": REDIS_NAME } } }],
          ports: [{ protocol: "TCP", port: REDIS_PORT }],
        },
      ],
    },
    "allow-agents-llm-egress": {
      podSelector: agentPods,
      policyTypes: ["Egress"],
      egress: [{ to: [internet], ports: [{ protocol: "TCP", port: 443 }] }],
    },
    "allow-model-loader-egress": {
      podSelector: modelLoader,
      policyTypes: ["Egress"],
      egress: [
        {
          to: [internet],
          ports: [
            { protocol: "TCP", port: 443 },
            { protocol: "TCP", port: 80 },
          ],
        },
      ],
    },
    // The router is the front door and agents serve the mesh's sync path: both take HTTP from any
    // namespace (the router authenticates; the mesh routes). Prometheus scrapes the same port.
    "allow-http-ingress": {
      podSelector: {
        matchExpressions: [
          { key: "app.kubernetes.io/component", operator: "In", values: ["agent", "router"] },
        ],
      },
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: "TCP", port: AGENT_PORT }] }],
    },
    "allow-prometheus-scrape": {
      podSelector: {},
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [byName(prometheus)],
          // With Istio, Prometheus reads the sidecar's merged metrics (the app's behind mTLS).
          ports: [
            { protocol: "TCP", port: AGENT_PORT },
            ...(args.istio ? [{ protocol: "TCP", port: MERGED_METRICS_PORT }] : []),
          ],
        },
      ],
    },
    "allow-router-to-agents": {
      podSelector: routerPods,
      policyTypes: ["Egress"],
      egress: [{ to: [{ podSelector: agentPods }], ports: [{ protocol: "TCP", port: AGENT_PORT }] }],
    },
  };
  if (args.managedQueuePort !== undefined) {
    specs["allow-queue-clients-to-managed-redis"] = {
      podSelector: { matchLabels: { [QUEUE_CLIENT_LABEL]: "true" } },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ipBlock: { cidr: "0.0.0.0/0" } }],
          ports: [{ protocol: "TCP", port: args.managedQueuePort }],
        },
      ],
    };
  }
  if (args.traceExport) {
    const { namespace, port } = args.traceExport;
    specs["allow-trace-export"] = {
      podSelector: {
        matchExpressions: [
          { key: "app.kubernetes.io/component", operator: "In", values: ["agent", "router"] },
        ],
      },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [namespace ? byName(namespace) : { ipBlock: { cidr: "0.0.0.0/0" } }],
          ports: [{ protocol: "TCP", port }],
        },
      ],
    };
  }
  if (args.istio) {
    specs["allow-istio-control-plane"] = {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        {
          to: [byName("istio-system")],
          ports: [
            { protocol: "TCP", port: 15012 },
            { protocol: "TCP", port: 15017 },
          ],
        },
      ],
    };
    specs["allow-istio-mesh"] = {
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          from: [{ namespaceSelector: {} }],
          ports: [
            { protocol: "TCP", port: 15008 },
            { protocol: "TCP", port: 15090 },
          ],
        },
      ],
      egress: [{ to: [{ podSelector: agentPods }], ports: [{ protocol: "TCP", port: 15008 }] }],
    };
  }
  return specs;
}

/** A default-deny NetworkPolicy for the namespace plus explicit allows. */
export class FleetNetworkPolicies extends pulumi.ComponentResource {
  readonly names: string[];

  constructor(name: string, args: FleetNetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:FleetNetworkPolicies", name, {}, opts);
    validateFleetNetworkPoliciesArgs(name, args);
    const specs = networkPolicySpecs(args);
    for (const [policy, spec] of Object.entries(specs)) {
      new k8s.networking.v1.NetworkPolicy(
        `${name}-${policy}`,
        {
          metadata: { name: policy, namespace: args.namespace, labels: fleetLabels("network-policy") },
          spec,
        },
        { parent: this },
      );
    }
    this.names = Object.keys(specs);
    this.registerOutputs({});
  }
}
