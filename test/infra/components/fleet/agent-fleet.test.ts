/** AgentFleet constructed alone under Pulumi mocks, from minimal Args up: what it registers and wires together. */
import { describe, expect, it } from "vitest";
import { agentSettings } from "../../../../infra/catalog";
import { DEFAULT_CIRCUIT_BREAKER, DEFAULT_RETRIES } from "../../../../infra/config/schema";
import {
  AgentFleet,
  agentExecutor,
  validateAgentFleetArgs,
  type AgentFleetArgs,
} from "../../../../infra/components/fleet/agent-fleet";
import { K8S, named, namesOf, ofType, podSpecOf, underMocks } from "../../support/under-mocks";

const IMAGE = (name: string) => `ghcr.io/acme/${name}@sha256:${"e".repeat(64)}`;
const MODEL = { name: "m.gguf", url: "https://models.example/m.gguf", sha256: "a".repeat(64) };

/** One echo agent, in-cluster Redis, fixed scaling: what every fleet has. */
function minimal(over: Partial<AgentFleetArgs> = {}): AgentFleetArgs {
  return {
    namespace: "bots",
    agents: [agentSettings("reviewer")],
    scaling: { mode: "fixed" },
    images: { agents: { reviewer: IMAGE("agent-reviewer") }, router: IMAGE("router") },
    queue: {
      mode: "in-cluster",
      persistence: "aof-everysec",
      image: "redis:7.4-alpine",
      storage: { size: "1Gi" },
      resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "200m", memory: "256Mi" } },
    },
    executor: "echo",
    router: {
      replicas: 1,
      auth: "required",
      resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "200m", memory: "256Mi" } },
    },
    prometheusNamespace: "monitoring",
    ...over,
  };
}

const typesOf = (mocks: { resources: { type: string; custom: boolean }[] }) =>
  mocks.resources
    .filter((r) => !r.custom && r.type.startsWith("agent-fleet:"))
    .map((r) => r.type)
    .sort();

describe("AgentFleet", () => {
  it("minimal: a restricted namespace, the network policies, the queue, the router and one pool per agent", async () => {
    const { mocks, result } = await underMocks(() => new AgentFleet("fleet", minimal()).workloads);
    expect(typesOf(mocks)).toEqual([
      "agent-fleet:k8s:AgentFleet",
      "agent-fleet:k8s:AgentPool",
      "agent-fleet:k8s:FleetNetworkPolicies",
      "agent-fleet:k8s:TaskQueue",
      "agent-fleet:k8s:TaskRouter",
    ]);
    expect(named(mocks, K8S.Namespace, "fleet-namespace").inputs.metadata).toEqual({
      name: "bots",
      labels: {
        "app.kubernetes.io/part-of": "agent-fleet",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/component": "namespace",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
      },
    });
    expect(result).toEqual({ reviewer: "agent-reviewer" });
    // The pool reaches the queue the fleet created, with its password from the queue's Secret.
    const config = named(mocks, K8S.ConfigMap, "fleet-reviewer-config").inputs.data as Record<string, string>;
    expect(config).toMatchObject({
      EXECUTOR: "echo",
      REDIS_URL: "redis://redis.bots.svc.cluster.local:6379/0",
      QUEUE_PREFIX: "fleet",
      DRAIN_TIMEOUT_SECONDS: "600",
      TASK_TIMEOUT_MS: "600000",
    });
    expect(config).not.toHaveProperty("LOG_LEVEL");
    expect(podSpecOf(named(mocks, K8S.Deployment, "fleet-reviewer-workload")).containers[0]?.env).toEqual([
      { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-auth", key: "password" } } },
    ]);
    expect(named(mocks, K8S.NetworkPolicy, "fleet-netpol-allow-prometheus-scrape").inputs.spec).toMatchObject(
      {
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }] },
        ],
      },
    );
  });

  it("LLM agents read their key from the llm-api-keys Secret the fleet fills from Pulumi secrets", async () => {
    const { mocks } = await underMocks(
      () =>
        new AgentFleet(
          "fleet",
          minimal({ executor: "llm", apiKeys: { values: { anthropic: "sk-ant" } }, logLevel: "warn" }),
        ),
    );
    const keys = named(mocks, K8S.Secret, "fleet-api-keys-api-keys");
    expect(keys.inputs).toMatchObject({
      metadata: { name: "llm-api-keys" },
      stringData: { ANTHROPIC_API_KEY: "sk-ant" },
    });
    expect(keys.secretKeys).toEqual(["stringData"]);
    expect(
      podSpecOf(named(mocks, K8S.Deployment, "fleet-reviewer-workload")).containers[0]?.env,
    ).toContainEqual({
      name: "ANTHROPIC_API_KEY",
      valueFrom: { secretKeyRef: { name: "llm-api-keys", key: "ANTHROPIC_API_KEY" } },
    });
    expect(named(mocks, K8S.ConfigMap, "fleet-reviewer-config").inputs.data).toMatchObject({
      EXECUTOR: "anthropic",
      LLM_MODEL: "claude-sonnet-4-5",
      LOG_LEVEL: "warn",
    });
  });

  it("a local model: the model store, the sidecar on its port, agents started after the loader", async () => {
    const { mocks } = await underMocks(
      () =>
        new AgentFleet(
          "fleet",
          minimal({
            executor: "llm",
            agents: [agentSettings("python")],
            images: { agents: { python: IMAGE("agent-python") }, router: IMAGE("router") },
            models: {
              backend: { kind: "storage-class", storageClass: "nfs", accessMode: "ReadWriteMany" },
              size: "20Gi",
              files: [{ ...MODEL, name: "qwen3-8b-q4_k_m.gguf" }],
              loaderImage: "curl@sha256:" + "d".repeat(64),
              sidecar: {
                image: "llama@sha256:" + "c".repeat(64),
                port: 8090,
                contextSize: 2048,
                resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } },
              },
            },
          }),
        ),
    );
    expect(namesOf(mocks, "agent-fleet:k8s:ModelStore")).toEqual(["fleet-models"]);
    const pod = podSpecOf(named(mocks, K8S.StatefulSet, "fleet-python-workload"));
    expect(pod.initContainers?.[0]).toMatchObject({ name: "model", ports: [{ containerPort: 8090 }] });
    expect(named(mocks, K8S.ConfigMap, "fleet-python-config").inputs.data).toMatchObject({
      EXECUTOR: "openai",
      LLM_MODEL: "qwen3-8b-q4_k_m.gguf",
      LLM_BASE_URL: "http://127.0.0.1:8090/v1",
    });
  });

  it("Istio: injection on the namespace, the mesh routes, and a one-pod canary without an HPA", async () => {
    const { mocks } = await underMocks(
      () =>
        new AgentFleet(
          "fleet",
          minimal({
            scaling: {
              mode: "hpa",
              behavior: {
                scaleUp: { stabilizationWindowSeconds: 60, percent: 50, periodSeconds: 60 },
                scaleDown: { stabilizationWindowSeconds: 300, pods: 1, periodSeconds: 120 },
              },
            },
            istio: {
              enabled: true,
              retries: DEFAULT_RETRIES,
              circuitBreaker: DEFAULT_CIRCUIT_BREAKER,
              canary: { agent: "reviewer", weight: 10, image: "img:canary" },
              routerClientNamespaces: [],
            },
          }),
        ),
    );
    expect(named(mocks, K8S.Namespace, "fleet-namespace").inputs.metadata).toMatchObject({
      labels: { "istio-injection": "enabled" },
    });
    expect(namesOf(mocks, K8S.Deployment).sort()).toEqual([
      "fleet-reviewer-canary-workload",
      "fleet-reviewer-workload",
      "fleet-router-deployment",
    ]);
    expect(named(mocks, K8S.Deployment, "fleet-reviewer-canary-workload").inputs.spec).toMatchObject({
      replicas: 1,
    });
    expect(namesOf(mocks, K8S.HorizontalPodAutoscaler)).toEqual(["fleet-reviewer-hpa"]);
    expect(namesOf(mocks, K8S.VirtualService)).toEqual(["fleet-mesh-routes"]);
    expect(namesOf(mocks, K8S.NetworkPolicy)).toContain("fleet-netpol-allow-istio-control-plane");
  });

  it("pulls with the registry credentials given: one dockerconfigjson Secret, referenced by every pod", async () => {
    const { mocks } = await underMocks(
      () =>
        new AgentFleet(
          "fleet",
          minimal({ imagePullCredentials: { server: "ghcr.io", username: "ci", password: "pw" } }),
        ),
    );
    const pull = named(mocks, K8S.Secret, "fleet-pull");
    expect(pull.inputs.type).toBe("kubernetes.io/dockerconfigjson");
    expect(JSON.parse((pull.inputs.stringData as Record<string, string>)[".dockerconfigjson"] ?? "")).toEqual(
      {
        auths: { "ghcr.io": { auth: Buffer.from("ci:pw").toString("base64") } },
      },
    );
    for (const name of ["fleet-reviewer-workload", "fleet-router-deployment"]) {
      expect(podSpecOf(named(mocks, K8S.Deployment, name)).imagePullSecrets, name).toEqual([
        { name: "registry-credentials" },
      ]);
    }
  });

  it("a managed queue: no Redis of its own, egress to the managed port", async () => {
    const { mocks } = await underMocks(
      () =>
        new AgentFleet(
          "fleet",
          minimal({ queue: { mode: "managed", url: "rediss://cache.example", password: "pw" } }),
        ),
    );
    expect(ofType(mocks, K8S.StatefulSet)).toEqual([]);
    expect(
      named(mocks, K8S.NetworkPolicy, "fleet-netpol-allow-queue-clients-to-managed-redis").inputs.spec,
    ).toMatchObject({ egress: [{ ports: [{ protocol: "TCP", port: 6380 }] }] });
  });

  it("validates with property paths", () => {
    expect(() =>
      validateAgentFleetArgs(
        "fleet",
        minimal({
          namespace: "Bad_NS",
          executor: "llm",
          agents: [agentSettings("python"), agentSettings("python")],
          images: { agents: {}, router: "r" },
        }),
      ),
    ).toThrow(
      'AgentFleet "fleet": namespace: "Bad_NS" is not a DNS-1123 label; ' +
        "images.agents.python: missing image reference; " +
        "models: required because agent python uses the local model qwen3-8b-q4_k_m.gguf; " +
        'agents[1]: "python" is listed twice',
    );
  });

  it("agentExecutor: echo, a local model on its sidecar, an API with its key, or an own endpoint without one", () => {
    const python = agentSettings("python");
    expect(agentExecutor(python, false, "keys", 8081)).toEqual({ kind: "echo" });
    expect(agentExecutor(python, true, "keys", 9000)).toEqual({
      kind: "openai",
      model: "qwen3-8b-q4_k_m.gguf",
      baseUrl: "http://127.0.0.1:9000/v1",
    });
    expect(() => agentExecutor(python, true, "keys", undefined)).toThrow(/sidecar's port/);
    expect(agentExecutor(agentSettings("frontend"), true, "keys", undefined)).toEqual({
      kind: "anthropic",
      model: "claude-sonnet-4-5",
      apiKey: { name: "keys", key: "ANTHROPIC_API_KEY" },
    });
    const own = agentSettings("data", {
      model: { kind: "api", provider: "openai", name: "gpt", baseUrl: "http://llm.internal/v1" },
    });
    expect(agentExecutor(own, true, "keys", undefined)).toEqual({
      kind: "openai",
      model: "gpt",
      baseUrl: "http://llm.internal/v1",
    });
  });
});
