/** TaskRouter constructed alone under Pulumi mocks, with minimal Args. */
import { describe, expect, it } from "vitest";
import { fakeValue, promiseOf } from "../../../../infra/render/mocks";
import {
  TaskRouter,
  validateTaskRouterArgs,
  type TaskRouterArgs,
} from "../../../../infra/components/fleet/task-router";
import { K8S, named, podSpecOf, underMocks } from "../../support/under-mocks";

const minimal: TaskRouterArgs = {
  namespace: "ns",
  image: "ghcr.io/acme/router@sha256:" + "b".repeat(64),
  queue: { url: "redis://redis:6379/0", prefix: "fleet" },
  replicas: 1,
  auth: "required",
  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
};

describe("TaskRouter", () => {
  it("runs the router with its settings as env and a generated token mounted from a Secret", async () => {
    const { mocks, result } = await underMocks(async () => {
      const router = new TaskRouter("router", minimal);
      return { url: await promiseOf(router.url), tokens: await promiseOf(router.tokens) };
    });
    const token = `mock-${fakeValue("password", "router-token", 32)}`;
    expect(named(mocks, "random:index/randomPassword:RandomPassword", "router-token").inputs).toEqual({
      length: 40,
      special: false,
    });
    const tokens = named(mocks, K8S.Secret, "router-tokens");
    expect(tokens.inputs).toMatchObject({
      metadata: { name: "task-router-tokens" },
      stringData: { tokens: token },
    });
    expect(tokens.secretKeys).toContain("stringData");

    const deployment = named(mocks, K8S.Deployment, "router-deployment");
    expect(deployment.inputs.spec).toMatchObject({
      replicas: 1,
      selector: { matchLabels: { "app.kubernetes.io/name": "task-router" } },
      strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    });
    const pod = podSpecOf(deployment);
    expect(pod.containers[0]).toMatchObject({
      name: "router",
      image: minimal.image,
      args: ["router"],
      // No LOG_LEVEL: unset, the runtime's own default applies.
      env: [
        { name: "PORT", value: "8080" },
        { name: "REDIS_URL", value: "redis://redis:6379/0" },
        { name: "QUEUE_PREFIX", value: "fleet" },
        { name: "ROUTER_AUTH", value: "required" },
        { name: "ROUTER_TOKENS_FILE", value: "/etc/agent-fleet/router/tokens" },
      ],
      resources: minimal.resources,
      volumeMounts: [
        { name: "tmp", mountPath: "/tmp" },
        { name: "tokens", mountPath: "/etc/agent-fleet/router", readOnly: true },
      ],
    });
    expect(pod.volumes).toContainEqual({
      name: "tokens",
      secret: { secretName: "task-router-tokens", defaultMode: 0o440 },
    });
    expect(named(mocks, K8S.Service, "router-service").inputs.spec).toEqual({
      selector: { "app.kubernetes.io/name": "task-router" },
      ports: [{ name: "http", port: 80, targetPort: "http", appProtocol: "http" }],
    });
    expect(named(mocks, K8S.PodDisruptionBudget, "router-pdb").inputs.spec).toMatchObject({
      maxUnavailable: 1,
    });
    expect(result).toEqual({ url: "http://task-router.ns.svc.cluster.local", tokens: token });
  });

  it("given tokens, writes one per line and generates none; passes the Redis password and log level", async () => {
    const { mocks } = await underMocks(
      () =>
        new TaskRouter("router", {
          ...minimal,
          replicas: 3,
          tokens: " first-token-0123456789 , second-token-0123456789 ",
          logLevel: "debug",
          queue: { ...minimal.queue, password: { name: "redis-auth", key: "password" } },
        }),
    );
    expect(named(mocks, K8S.Secret, "router-tokens").inputs.stringData).toEqual({
      tokens: "first-token-0123456789\nsecond-token-0123456789",
    });
    expect(mocks.resources.filter((r) => r.type.startsWith("random:"))).toEqual([]);
    expect(podSpecOf(named(mocks, K8S.Deployment, "router-deployment")).containers[0]?.env).toEqual(
      expect.arrayContaining([
        { name: "LOG_LEVEL", value: "debug" },
        { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-auth", key: "password" } } },
      ]),
    );
    expect(named(mocks, K8S.PodDisruptionBudget, "router-pdb").inputs.spec).toMatchObject({
      minAvailable: 1,
    });
  });

  it("validates with property paths", () => {
    expect(() => validateTaskRouterArgs("router", { ...minimal, replicas: 0, image: "" })).toThrow(
      'TaskRouter "router": replicas: must be a whole number >= 1 (got 0); image: must not be empty',
    );
  });
});
