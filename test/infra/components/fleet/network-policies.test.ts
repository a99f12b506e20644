/** FleetNetworkPolicies constructed alone under Pulumi mocks, with minimal Args. */
import { describe, expect, it } from "vitest";
import {
  FleetNetworkPolicies,
  networkPolicySpecs,
  validateFleetNetworkPoliciesArgs,
} from "../../../../infra/components/fleet/network-policies";
import { K8S, named, namesOf, underMocks } from "../../support/under-mocks";

const BASELINE = [
  "default-deny",
  "allow-dns",
  "allow-queue-clients-to-redis",
  "allow-agents-llm-egress",
  "allow-model-loader-egress",
  "allow-http-ingress",
  "allow-prometheus-scrape",
  "allow-router-to-agents",
];

describe("FleetNetworkPolicies", () => {
  it("denies everything in the namespace, then allows exactly what the fleet needs", async () => {
    const { mocks, result } = await underMocks(() => {
      const policies = new FleetNetworkPolicies("netpol", {
        namespace: "ns",
        prometheusNamespace: "metrics",
      });
      return policies.names;
    });
    expect(result).toEqual(BASELINE);
    // Registration order is the mocks' (asynchronous), not the program's: compare as sets.
    expect(namesOf(mocks, K8S.NetworkPolicy).sort()).toEqual(BASELINE.map((p) => `netpol-${p}`).sort());
    const deny = named(mocks, K8S.NetworkPolicy, "netpol-default-deny").inputs;
    expect(deny.metadata).toMatchObject({ name: "default-deny", namespace: "ns" });
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    expect(named(mocks, K8S.NetworkPolicy, "netpol-allow-prometheus-scrape").inputs.spec).toEqual({
      podSelector: {},
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "metrics" } } }],
          ports: [{ protocol: "TCP", port: 8080 }],
        },
      ],
    });
    // LLM egress: HTTPS to the internet, never to private, link-local or CGNAT ranges.
    expect(named(mocks, K8S.NetworkPolicy, "netpol-allow-agents-llm-egress").inputs.spec).toEqual({
      podSelector: { matchLabels: { "app.kubernetes.io/component": "agent" } },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [
            {
              ipBlock: {
                cidr: "0.0.0.0/0",
                except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"],
              },
            },
          ],
          ports: [{ protocol: "TCP", port: 443 }],
        },
      ],
    });
    expect(named(mocks, K8S.NetworkPolicy, "netpol-allow-queue-clients-to-redis").inputs.spec).toMatchObject({
      podSelector: { matchLabels: { "agent-fleet.io/queue-client": "true" } },
      egress: [
        {
          to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "redis" } } }],
          ports: [{ protocol: "TCP", port: 6379 }],
        },
      ],
    });
  });

  it("a managed Redis and Istio add their own allows", () => {
    const specs = networkPolicySpecs({
      prometheusNamespace: "monitoring",
      istio: true,
      managedQueuePort: 6380,
      privateCidrs: ["10.0.0.0/8"],
    });
    expect(Object.keys(specs)).toEqual([
      ...BASELINE,
      "allow-queue-clients-to-managed-redis",
      "allow-istio-control-plane",
      "allow-istio-mesh",
    ]);
    expect(specs["allow-queue-clients-to-managed-redis"]?.egress).toEqual([
      { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ protocol: "TCP", port: 6380 }] },
    ]);
    expect(specs["allow-istio-control-plane"]?.egress).toEqual([
      {
        to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "istio-system" } } }],
        ports: [
          { protocol: "TCP", port: 15012 },
          { protocol: "TCP", port: 15017 },
        ],
      },
    ]);
    expect(specs["allow-agents-llm-egress"]?.egress).toEqual([
      {
        to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }],
        ports: [{ protocol: "TCP", port: 443 }],
      },
    ]);
  });

  it("trace export: egress to the collector's namespace, or to the endpoint's port anywhere", () => {
    const inCluster = networkPolicySpecs({
      prometheusNamespace: "monitoring",
      traceExport: { namespace: "monitoring", port: 4318 },
    });
    expect(Object.keys(inCluster)).toEqual([...BASELINE, "allow-trace-export"]);
    expect(inCluster["allow-trace-export"]).toEqual({
      podSelector: {
        matchExpressions: [
          { key: "app.kubernetes.io/component", operator: "In", values: ["agent", "router"] },
        ],
      },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
          ports: [{ protocol: "TCP", port: 4318 }],
        },
      ],
    });
    const external = networkPolicySpecs({ prometheusNamespace: "monitoring", traceExport: { port: 443 } });
    expect(external["allow-trace-export"]?.egress).toEqual([
      { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ protocol: "TCP", port: 443 }] },
    ]);
  });

  it("validates with property paths", () => {
    expect(() =>
      validateFleetNetworkPoliciesArgs("netpol", {
        namespace: "ns",
        prometheusNamespace: "Metrics",
        managedQueuePort: 0,
      }),
    ).toThrow(
      'FleetNetworkPolicies "netpol": prometheusNamespace: "Metrics" is not a DNS-1123 label; ' +
        "managedQueuePort: must be a port number from 1 to 65535 (got 0)",
    );
  });
});
