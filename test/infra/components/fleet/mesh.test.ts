/** FleetMesh constructed alone under Pulumi mocks, with minimal Args. */
import { describe, expect, it } from "vitest";
import { SAFE_RETRY_CONDITIONS } from "../../../../agent-runtime/src/contract";
import { DEFAULT_CIRCUIT_BREAKER, DEFAULT_RETRIES } from "../../../../infra/config/schema";
import {
  FleetMesh,
  ISTIO_VERSION,
  validateFleetMeshArgs,
  type FleetMeshArgs,
} from "../../../../infra/components/fleet/mesh";
import { K8S, named, namesOf, underMocks } from "../../support/under-mocks";

const minimal: FleetMeshArgs = {
  namespace: "ns",
  agents: [
    { name: "reviewer", taskTypes: ["code-review"], taskTimeoutSeconds: 120 },
    { name: "data", taskTypes: ["data-analysis", "sql-query"], taskTimeoutSeconds: 600 },
  ],
  retries: { attempts: 2, retryOn: "connect-failure,refused-stream,429" },
  circuitBreaker: {
    consecutive5xxErrors: 3,
    interval: "5s",
    baseEjectionTime: "15s",
    maxEjectionPercent: 30,
    maxPendingRequests: 8,
    maxRequestsPerConnection: 2,
  },
  routerClientNamespaces: [],
};

const retries = (timeout: string) => ({
  attempts: 2,
  retryOn: "connect-failure,refused-stream,429",
  perTryTimeout: timeout,
});

describe("FleetMesh", () => {
  it("routes the task-type header to each agent with a timeout of its task timeout + 5 s, retried only where nothing ran", async () => {
    const { mocks } = await underMocks(() => new FleetMesh("mesh", minimal));
    expect(named(mocks, K8S.VirtualService, "mesh-routes").inputs).toMatchObject({
      metadata: { name: "task-router", namespace: "ns" },
      spec: {
        hosts: ["task-router"],
        http: [
          {
            name: "reviewer",
            match: [{ headers: { "task-type": { regex: "^(code-review)$" } } }],
            route: [{ destination: { host: "agent-reviewer", subset: "stable" } }],
            timeout: "125s",
            retries: retries("125s"),
          },
          {
            name: "data",
            match: [{ headers: { "task-type": { regex: "^(data-analysis|sql-query)$" } } }],
            route: [{ destination: { host: "agent-data", subset: "stable" } }],
            timeout: "605s",
            retries: retries("605s"),
          },
          {
            name: "router",
            route: [{ destination: { host: "task-router" } }],
            timeout: "30s",
            retries: retries("30s"),
          },
        ],
      },
    });
    expect(
      (named(mocks, K8S.VirtualService, "mesh-routes").inputs.spec as Record<string, unknown>).gateways,
    ).toBeUndefined();
    // Istio itself is somebody else's unless asked for.
    expect(namesOf(mocks, K8S.HelmRelease)).toEqual([]);
    expect(namesOf(mocks, K8S.Namespace)).toEqual([]);
  });

  it("takes mTLS everywhere: STRICT PeerAuthentication, ISTIO_MUTUAL to every agent, the router and Redis", async () => {
    const { mocks } = await underMocks(() => new FleetMesh("mesh", minimal));
    expect(named(mocks, K8S.PeerAuthentication, "mesh-mtls").inputs).toMatchObject({
      metadata: { name: "default", namespace: "ns" },
      spec: { mtls: { mode: "STRICT" } },
    });
    expect(named(mocks, K8S.DestinationRule, "mesh-data-rule").inputs.spec).toEqual({
      host: "agent-data",
      trafficPolicy: {
        tls: { mode: "ISTIO_MUTUAL" },
        connectionPool: { http: { http1MaxPendingRequests: 8, maxRequestsPerConnection: 2 } },
        outlierDetection: {
          consecutive5xxErrors: 3,
          interval: "5s",
          baseEjectionTime: "15s",
          maxEjectionPercent: 30,
        },
      },
      subsets: [{ name: "stable", labels: { "agent-fleet.io/track": "stable" } }],
    });
    for (const host of ["task-router", "redis"]) {
      expect(named(mocks, K8S.DestinationRule, `mesh-${host}-rule`).inputs.spec).toEqual({
        host,
        trafficPolicy: { tls: { mode: "ISTIO_MUTUAL" } },
      });
    }
  });

  it("denies by default and allows: agents from the router and the gateway, Redis from queue clients, the router from the gateway", async () => {
    const { mocks } = await underMocks(
      () => new FleetMesh("mesh", { ...minimal, routerClientNamespaces: ["apps"] }),
    );
    const spec = (name: string) => named(mocks, K8S.AuthorizationPolicy, `mesh-authz-${name}`).inputs.spec;
    expect(namesOf(mocks, K8S.AuthorizationPolicy)).toEqual([
      "mesh-authz-deny-by-default",
      "mesh-authz-agents-from-router-and-gateway",
      "mesh-authz-redis-from-queue-clients",
      "mesh-authz-router-from-gateway-and-clients",
    ]);
    expect(spec("deny-by-default")).toEqual({});
    const gateway = "cluster.local/ns/istio-ingress/sa/istio-ingressgateway";
    expect(spec("agents-from-router-and-gateway")).toEqual({
      selector: { matchLabels: { "app.kubernetes.io/component": "agent" } },
      action: "ALLOW",
      rules: [
        {
          from: [{ source: { principals: ["cluster.local/ns/ns/sa/task-router", gateway] } }],
          to: [{ operation: { ports: ["8080"] } }],
        },
      ],
    });
    expect(spec("redis-from-queue-clients")).toEqual({
      selector: {
        matchLabels: { "app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "queue" },
      },
      action: "ALLOW",
      rules: [
        {
          from: [
            {
              source: {
                principals: ["cluster.local/ns/ns/sa/agent-*", "cluster.local/ns/ns/sa/task-router"],
              },
            },
          ],
          to: [{ operation: { ports: ["6379"] } }],
        },
      ],
    });
    expect(spec("router-from-gateway-and-clients")).toEqual({
      selector: { matchLabels: { "app.kubernetes.io/name": "task-router" } },
      action: "ALLOW",
      rules: [
        { from: [{ source: { principals: [gateway] } }], to: [{ operation: { ports: ["8080"] } }] },
        { from: [{ source: { namespaces: ["apps"] } }], to: [{ operation: { ports: ["8080"] } }] },
      ],
    });
  });

  it("installs Istio with the CNI node agent (istio-system privileged, istiod told so) and splits a canary by weight", async () => {
    const { mocks } = await underMocks(
      () =>
        new FleetMesh("mesh", {
          ...minimal,
          canary: { agent: "data", weight: 25 },
          install: { revision: "1-30", platform: "k3s" },
        }),
    );
    const http = (
      named(mocks, K8S.VirtualService, "mesh-routes").inputs.spec as { http: { route: unknown }[] }
    ).http;
    expect(http[1]?.route).toEqual([
      { destination: { host: "agent-data", subset: "stable" }, weight: 75 },
      { destination: { host: "agent-data", subset: "canary" }, weight: 25 },
    ]);
    expect(
      (named(mocks, K8S.DestinationRule, "mesh-data-rule").inputs.spec as { subsets: unknown[] }).subsets,
    ).toEqual([
      { name: "stable", labels: { "agent-fleet.io/track": "stable" } },
      { name: "canary", labels: { "agent-fleet.io/track": "canary" } },
    ]);
    expect(namesOf(mocks, K8S.Namespace)).toEqual(["mesh-istio-system"]);
    expect(named(mocks, K8S.Namespace, "mesh-istio-system").inputs.metadata).toMatchObject({
      name: "istio-system",
      labels: { "pod-security.kubernetes.io/enforce": "privileged" },
    });
    expect(namesOf(mocks, K8S.HelmRelease)).toEqual(["mesh-istio-base", "mesh-istio-cni", "mesh-istiod"]);
    for (const release of namesOf(mocks, K8S.HelmRelease)) {
      expect(named(mocks, K8S.HelmRelease, release).inputs).toMatchObject({
        version: ISTIO_VERSION,
        repositoryOpts: { repo: "https://istio-release.storage.googleapis.com/charts" },
      });
    }
    expect(named(mocks, K8S.HelmRelease, "mesh-istio-base").inputs.values).toEqual({
      defaultRevision: "1-30",
    });
    expect(named(mocks, K8S.HelmRelease, "mesh-istio-cni").inputs).toMatchObject({
      chart: "cni",
      namespace: "istio-system",
      values: { global: { platform: "k3s" } },
    });
    expect(named(mocks, K8S.HelmRelease, "mesh-istiod").inputs.values).toEqual({
      revision: "1-30",
      global: { platform: "k3s", proxy: { holdApplicationUntilProxyStarts: true } },
      pilot: { cni: { enabled: true } },
      meshConfig: { accessLogFile: "/dev/stdout", enablePrometheusMerge: true },
    });
  });

  it("exposes the router through an ingress gateway (istio-ingress, restricted) with TLS from a Secret or cert-manager", async () => {
    const { mocks } = await underMocks(
      () =>
        new FleetMesh("mesh", {
          ...minimal,
          install: { cni: { binDir: "/opt/cni/bin", confDir: "/etc/cni/net.d" } },
          ingress: {
            host: "fleet.acme.dev",
            tls: { issuer: { name: "letsencrypt", kind: "ClusterIssuer" } },
          },
        }),
    );
    expect(named(mocks, K8S.Namespace, "mesh-istio-ingress").inputs.metadata).toMatchObject({
      name: "istio-ingress",
      labels: { "pod-security.kubernetes.io/enforce": "restricted" },
    });
    expect(named(mocks, K8S.HelmRelease, "mesh-istio-cni").inputs.values).toEqual({
      cni: { cniBinDir: "/opt/cni/bin", cniConfDir: "/etc/cni/net.d" },
    });
    expect(named(mocks, K8S.HelmRelease, "mesh-istio-ingressgateway").inputs).toMatchObject({
      name: "istio-ingressgateway",
      chart: "gateway",
      namespace: "istio-ingress",
      values: {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        containerSecurityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
      },
    });
    expect(named(mocks, K8S.Gateway, "mesh-gateway").inputs).toMatchObject({
      metadata: { name: "task-router", namespace: "istio-ingress" },
      spec: {
        selector: { istio: "ingressgateway" },
        servers: [
          {
            port: { number: 443, name: "https", protocol: "HTTPS" },
            hosts: ["fleet.acme.dev"],
            tls: { mode: "SIMPLE", credentialName: "task-router-tls" },
          },
          { port: { number: 80, name: "http", protocol: "HTTP" }, tls: { httpsRedirect: true } },
        ],
      },
    });
    expect(named(mocks, K8S.Certificate, "mesh-certificate").inputs).toMatchObject({
      metadata: { name: "task-router-tls", namespace: "istio-ingress" },
      spec: {
        secretName: "task-router-tls",
        dnsNames: ["fleet.acme.dev"],
        issuerRef: { name: "letsencrypt", kind: "ClusterIssuer" },
      },
    });
    expect(named(mocks, K8S.VirtualService, "mesh-routes").inputs.spec).toMatchObject({
      hosts: ["task-router", "fleet.acme.dev"],
      gateways: ["mesh", "istio-ingress/task-router"],
    });

    const secret = await underMocks(
      () =>
        new FleetMesh("mesh", {
          ...minimal,
          ingress: { host: "fleet.acme.dev", tls: { secretName: "fleet-tls" } },
        }),
    );
    expect(namesOf(secret.mocks, K8S.Certificate)).toEqual([]);
    expect(JSON.stringify(named(secret.mocks, K8S.Gateway, "mesh-gateway").inputs.spec)).toContain(
      '"credentialName":"fleet-tls"',
    );
  });

  it("the stack config's defaults are exported for library users: retries only on the runtime's safe conditions", () => {
    expect(DEFAULT_RETRIES).toEqual({ attempts: 2, retryOn: SAFE_RETRY_CONDITIONS.join(",") });
    expect(DEFAULT_RETRIES.retryOn).toBe("connect-failure,refused-stream,429");
    expect(DEFAULT_CIRCUIT_BREAKER).toEqual({
      consecutive5xxErrors: 5,
      interval: "10s",
      baseEjectionTime: "30s",
      maxEjectionPercent: 50,
      maxPendingRequests: 64,
      maxRequestsPerConnection: 16,
    });
  });

  it("validates with property paths", () => {
    expect(() =>
      validateFleetMeshArgs("mesh", {
        ...minimal,
        agents: [{ name: "data", taskTypes: ["x"], taskTimeoutSeconds: 0 }],
        canary: { agent: "python", weight: 120 },
      }),
    ).toThrow(
      'FleetMesh "mesh": canary.weight: must be from 0 to 100 (got 120); canary.agent: "python" is not one of the fleet\'s agents; agents[0].taskTimeoutSeconds: must be a whole number >= 1 (got 0)',
    );
  });
});
