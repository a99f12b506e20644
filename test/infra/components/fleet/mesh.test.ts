/** FleetMesh constructed alone under Pulumi mocks, with minimal Args. */
import { describe, expect, it } from "vitest";
import { DEFAULT_CIRCUIT_BREAKER, DEFAULT_RETRIES } from "../../../../infra/config/schema";
import {
  FleetMesh,
  validateFleetMeshArgs,
  type FleetMeshArgs,
} from "../../../../infra/components/fleet/mesh";
import { K8S, named, namesOf, underMocks } from "../../support/under-mocks";

const minimal: FleetMeshArgs = {
  namespace: "ns",
  agents: [
    { name: "reviewer", taskTypes: ["code-review"] },
    { name: "data", taskTypes: ["data-analysis", "sql-query"] },
  ],
  retries: { attempts: 2, perTryTimeout: "5s", retryOn: "5xx" },
  circuitBreaker: {
    consecutive5xxErrors: 3,
    interval: "5s",
    baseEjectionTime: "15s",
    maxEjectionPercent: 30,
    maxPendingRequests: 8,
    maxRequestsPerConnection: 2,
  },
};

describe("FleetMesh", () => {
  it("routes the task-type header to each agent's stable subset with retries; the rest reaches the router", async () => {
    const { mocks } = await underMocks(() => new FleetMesh("mesh", minimal));
    const retries = { attempts: 2, perTryTimeout: "5s", retryOn: "5xx" };
    expect(named(mocks, K8S.VirtualService, "mesh-routes").inputs).toMatchObject({
      metadata: { name: "task-router", namespace: "ns" },
      spec: {
        hosts: ["task-router"],
        http: [
          {
            name: "reviewer",
            match: [{ headers: { "task-type": { regex: "^(code-review)$" } } }],
            route: [{ destination: { host: "agent-reviewer", subset: "stable" } }],
            retries,
          },
          {
            name: "data",
            match: [{ headers: { "task-type": { regex: "^(data-analysis|sql-query)$" } } }],
            route: [{ destination: { host: "agent-data", subset: "stable" } }],
            retries,
          },
          { name: "router", route: [{ destination: { host: "task-router" } }], retries },
        ],
      },
    });
    expect(named(mocks, K8S.DestinationRule, "mesh-data-rule").inputs.spec).toEqual({
      host: "agent-data",
      trafficPolicy: {
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
    // Istio itself is somebody else's unless asked for.
    expect(namesOf(mocks, K8S.HelmRelease)).toEqual([]);
    expect(namesOf(mocks, K8S.Namespace)).toEqual([]);
  });

  it("splits a canary agent's traffic by weight and installs Istio when asked", async () => {
    const { mocks } = await underMocks(
      () =>
        new FleetMesh("mesh", {
          ...minimal,
          canary: { agent: "data", weight: 25 },
          install: { revision: "1-27" },
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
    expect(named(mocks, K8S.Namespace, "mesh-istio-system").inputs.metadata).toMatchObject({
      name: "istio-system",
      labels: { "pod-security.kubernetes.io/enforce": "privileged" },
    });
    expect(named(mocks, K8S.HelmRelease, "mesh-istio-base").inputs).toMatchObject({
      chart: "base",
      version: "1.27.3",
      values: { defaultRevision: "1-27" },
    });
    expect(named(mocks, K8S.HelmRelease, "mesh-istiod").inputs).toMatchObject({
      chart: "istiod",
      values: { revision: "1-27", global: { proxy: { holdApplicationUntilProxyStarts: true } } },
    });
  });

  it("the stack config's defaults are exported for library users", () => {
    expect(DEFAULT_RETRIES).toEqual({
      attempts: 3,
      perTryTimeout: "60s",
      retryOn: "5xx,reset,connect-failure,refused-stream,429",
    });
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
      validateFleetMeshArgs("mesh", { ...minimal, canary: { agent: "python", weight: 120 } }),
    ).toThrow(
      'FleetMesh "mesh": canary.weight: must be from 0 to 100 (got 120); canary.agent: "python" is not one of the fleet\'s agents',
    );
  });
});
