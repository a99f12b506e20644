/** TaskQueue constructed alone under Pulumi mocks, with minimal Args: in-cluster Redis and a managed endpoint. */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { promiseOf } from "../../../../infra/render/mocks";
import {
  redisArgs,
  TaskQueue,
  validateTaskQueueArgs,
  type TaskQueueArgs,
} from "../../../../infra/components/fleet/task-queue";
import { K8S, named, namesOf, podSpecOf, underMocks } from "../../support/under-mocks";

const IN_CLUSTER: TaskQueueArgs = {
  namespace: "ns",
  mode: "in-cluster",
  persistence: "aof-everysec",
  image: "redis:7.4-alpine",
  storage: { size: "5Gi", storageClass: "fast" },
  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
};

describe("TaskQueue, in-cluster", () => {
  it("runs one Redis StatefulSet with a generated password, persistence on a PVC, and admits only queue clients", async () => {
    const { mocks, result } = await underMocks(async () => {
      const queue = new TaskQueue("queue", IN_CLUSTER);
      return {
        url: await promiseOf(pulumi.output(queue.connection.url)),
        endpoint: await promiseOf(queue.endpoint),
        password: {
          name: await promiseOf(pulumi.output(queue.connection.password?.name)),
          key: queue.connection.password?.key,
        },
        prefix: queue.connection.prefix,
      };
    });
    expect(named(mocks, "random:index/randomPassword:RandomPassword", "queue-password").inputs).toEqual({
      length: 32,
      special: false,
    });
    const secret = named(mocks, K8S.Secret, "queue-auth");
    expect(secret.inputs.metadata).toMatchObject({ name: "redis-auth", namespace: "ns" });
    expect(secret.secretKeys).toContain("stringData");
    expect(named(mocks, K8S.Service, "queue-service").inputs.spec).toEqual({
      selector: { "app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "queue" },
      ports: [{ name: "redis", port: 6379, targetPort: "redis" }],
    });
    expect(named(mocks, K8S.Service, "queue-headless").inputs.spec).toMatchObject({ clusterIP: "None" });

    const redis = named(mocks, K8S.StatefulSet, "queue-redis");
    expect(redis.inputs.spec).toMatchObject({
      replicas: 1,
      serviceName: "redis-headless",
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: {
            accessModes: ["ReadWriteOnce"],
            storageClassName: "fast",
            resources: { requests: { storage: "5Gi" } },
          },
        },
      ],
    });
    const pod = podSpecOf(redis);
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 999,
      runAsGroup: 999,
      fsGroup: 999,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.containers[0]).toMatchObject({
      image: "redis:7.4-alpine",
      command: ["redis-server"],
      args: redisArgs("aof-everysec"),
      env: [{ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-auth", key: "password" } } }],
      resources: IN_CLUSTER.resources,
      securityContext: { runAsUser: 999, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
    });
    expect(pod.volumes).toEqual([{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }]);
    expect(named(mocks, K8S.PodDisruptionBudget, "queue-pdb").inputs.spec).toMatchObject({
      maxUnavailable: 1,
    });
    expect(named(mocks, K8S.NetworkPolicy, "queue-ingress").inputs.spec).toEqual({
      podSelector: {
        matchLabels: { "app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "queue" },
      },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { "agent-fleet.io/queue-client": "true" } } }],
          ports: [{ protocol: "TCP", port: 6379 }],
        },
      ],
    });
    expect(result).toEqual({
      url: "redis://redis.ns.svc.cluster.local:6379/0",
      endpoint: "redis.ns.svc.cluster.local:6379",
      password: { name: "redis-auth", key: "password" },
      prefix: "fleet",
    });
  });

  it("persistence none keeps data in memory: an emptyDir, no claim", async () => {
    const { mocks } = await underMocks(() => new TaskQueue("queue", { ...IN_CLUSTER, persistence: "none" }));
    const redis = named(mocks, K8S.StatefulSet, "queue-redis");
    expect(redis.inputs.spec).not.toHaveProperty("volumeClaimTemplates");
    expect(podSpecOf(redis).volumes).toContainEqual({ name: "data", emptyDir: { sizeLimit: "5Gi" } });
  });

  it("Redis flags per persistence setting never evict keys", () => {
    expect(redisArgs("aof-always")).toEqual(
      expect.arrayContaining(["--appendfsync", "always", "--maxmemory-policy", "noeviction"]),
    );
    expect(redisArgs("aof-everysec")).toEqual(
      expect.arrayContaining(["--appendonly", "yes", "--appendfsync", "everysec"]),
    );
    expect(redisArgs("none")).toEqual(expect.arrayContaining(["--appendonly", "no"]));
  });
});

describe("TaskQueue, managed", () => {
  it("creates only the password Secret; the connection is the given endpoint", async () => {
    const { mocks, result } = await underMocks(async () => {
      const queue = new TaskQueue("queue", {
        namespace: "ns",
        mode: "managed",
        url: "rediss://cache.example:6380/2",
        password: "s3cret",
      });
      return { endpoint: await promiseOf(queue.endpoint), prefix: queue.connection.prefix };
    });
    expect(named(mocks, K8S.Secret, "queue-auth").inputs.stringData).toEqual({ password: "s3cret" });
    expect(namesOf(mocks, K8S.StatefulSet)).toEqual([]);
    expect(namesOf(mocks, K8S.Service)).toEqual([]);
    expect(result).toEqual({ endpoint: "cache.example:6380", prefix: "fleet" });
  });

  it("validates with property paths", () => {
    expect(() =>
      validateTaskQueueArgs("queue", {
        namespace: "n",
        mode: "managed",
        url: "redis://user:pw@host:6379",
        password: "x",
      }),
    ).toThrow(
      'TaskQueue "queue": url: expected redis://host:port or rediss://host:port without credentials (got "redis://user:pw@host:6379")',
    );
    expect(() => validateTaskQueueArgs("queue", { ...IN_CLUSTER, image: " " })).toThrow(
      'TaskQueue "queue": image: must not be empty',
    );
  });
});
