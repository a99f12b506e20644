/** AgentPool constructed alone under Pulumi mocks, with minimal Args: the objects it registers, input by input. */
import { describe, expect, it } from "vitest";
import { agentSettings } from "../../../../infra/catalog";
import {
  AgentPool,
  agentEnvironment,
  validateAgentPoolArgs,
  type AgentPoolArgs,
} from "../../../../infra/components/fleet/agent-pool";
import { hpaMetrics } from "../../../../infra/components/fleet/autoscaling";
import { K8S, named, namesOf, ofType, podSpecOf, underMocks } from "../../support/under-mocks";

const BEHAVIOR = {
  scaleUp: { stabilizationWindowSeconds: 30, percent: 100, periodSeconds: 15 },
  scaleDown: { stabilizationWindowSeconds: 600, pods: 2, periodSeconds: 60 },
};

/** The least a pool needs: one API agent on the echo executor, fixed at one pod. */
function minimal(over: Partial<AgentPoolArgs> = {}): AgentPoolArgs {
  return {
    namespace: "ns",
    agent: agentSettings("frontend", { taskTimeoutSeconds: 35 }),
    image: "ghcr.io/acme/agent-frontend@sha256:" + "a".repeat(64),
    scaling: { mode: "fixed" },
    queue: { url: "redis://redis.ns.svc.cluster.local:6379/0", prefix: "q" },
    executor: { kind: "echo" },
    ...over,
  };
}

describe("AgentPool, fixed scaling", () => {
  it("registers a token-less ServiceAccount, the settings ConfigMap, a Deployment, a Service and a PDB; no HPA", async () => {
    const { mocks } = await underMocks(() => new AgentPool("pool", minimal()));
    expect(named(mocks, K8S.ServiceAccount, "pool-sa").inputs).toMatchObject({
      metadata: { name: "agent-frontend", namespace: "ns" },
      automountServiceAccountToken: false,
    });
    expect(named(mocks, K8S.ConfigMap, "pool-config").inputs.data).toEqual({
      AGENT_TYPE: "frontend",
      TASK_TYPES: "frontend-work,ui-component",
      CONCURRENCY: "4",
      PORT: "8080",
      REDIS_URL: "redis://redis.ns.svc.cluster.local:6379/0",
      QUEUE_PREFIX: "q",
      DRAIN_TIMEOUT_SECONDS: "35",
      TASK_TIMEOUT_MS: "35000",
      EXECUTOR: "echo",
    });
    const deployment = named(mocks, K8S.Deployment, "pool-workload");
    expect(deployment.inputs.spec).toMatchObject({
      replicas: 1,
      selector: {
        matchLabels: {
          "app.kubernetes.io/name": "agent-frontend",
          "agent-fleet.io/agent": "frontend",
          "agent-fleet.io/track": "stable",
        },
      },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 } },
    });
    const pod = podSpecOf(deployment);
    expect(pod).toMatchObject({
      serviceAccountName: "agent-frontend",
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 45,
      securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
      volumes: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
    });
    expect(pod).not.toHaveProperty("nodeSelector");
    expect(pod).not.toHaveProperty("initContainers");
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0]).toMatchObject({
      name: "agent",
      args: ["worker", "--agent", "frontend"],
      ports: [{ name: "http", containerPort: 8080 }],
      envFrom: [{ configMapRef: { name: "agent-frontend" } }],
      env: [],
      resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } },
      securityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
      readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
    });
    expect(named(mocks, K8S.Service, "pool-service").inputs.spec).toEqual({
      selector: { "app.kubernetes.io/name": "agent-frontend", "agent-fleet.io/agent": "frontend" },
      ports: [{ name: "http", port: 80, targetPort: "http", appProtocol: "http" }],
    });
    // One pod: it may be evicted (it drains first).
    expect(named(mocks, K8S.PodDisruptionBudget, "pool-pdb").inputs.spec).toMatchObject({
      maxUnavailable: 1,
    });
    expect(ofType(mocks, K8S.HorizontalPodAutoscaler)).toEqual([]);
  });

  it("a settings change rolls the pods: the config hash annotation follows the ConfigMap", async () => {
    const hash = async (args: AgentPoolArgs) => {
      const { mocks } = await underMocks(() => new AgentPool("pool", args));
      const template = (
        named(mocks, K8S.Deployment, "pool-workload").inputs.spec as {
          template: { metadata: { annotations: Record<string, string> } };
        }
      ).template;
      return template.metadata.annotations["agent-fleet.io/config-hash"];
    };
    const before = await hash(minimal());
    expect(before).toMatch(/^[0-9a-f]{16}$/);
    expect(await hash(minimal())).toBe(before);
    expect(await hash(minimal({ logLevel: "debug" }))).not.toBe(before);
  });

  it("secrets reach the container by reference, never through the ConfigMap", async () => {
    const args = minimal({
      queue: { url: "redis://r:6379/0", prefix: "fleet", password: { name: "redis-auth", key: "password" } },
      executor: {
        kind: "anthropic",
        model: "claude",
        apiKey: { name: "llm-api-keys", key: "ANTHROPIC_API_KEY" },
      },
    });
    const { mocks } = await underMocks(() => new AgentPool("pool", args));
    expect(podSpecOf(named(mocks, K8S.Deployment, "pool-workload")).containers[0]?.env).toEqual([
      { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-auth", key: "password" } } },
      {
        name: "ANTHROPIC_API_KEY",
        valueFrom: { secretKeyRef: { name: "llm-api-keys", key: "ANTHROPIC_API_KEY" } },
      },
    ]);
    expect(named(mocks, K8S.ConfigMap, "pool-config").inputs.data).toMatchObject({
      EXECUTOR: "anthropic",
      LLM_MODEL: "claude",
    });
  });
});

describe("AgentPool, HPA scaling", () => {
  it("creates an autoscaling/v2 HPA on backlog and CPU; the workload carries no replicas", async () => {
    const agent = agentSettings("python", { minReplicas: 2, maxReplicas: 7, backlogPerPod: 4 });
    const { mocks } = await underMocks(
      () => new AgentPool("pool", minimal({ agent, scaling: { mode: "hpa", behavior: BEHAVIOR } })),
    );
    const workload = named(mocks, K8S.StatefulSet, "pool-workload");
    expect(workload.inputs.spec).not.toHaveProperty("replicas");
    expect(workload.inputs.spec).toMatchObject({
      serviceName: "agent-python-pods",
      podManagementPolicy: "Parallel",
    });
    expect(named(mocks, K8S.Service, "pool-pods").inputs.spec).toMatchObject({ clusterIP: "None" });
    expect(named(mocks, K8S.HorizontalPodAutoscaler, "pool-hpa").inputs.spec).toEqual({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "StatefulSet", name: "agent-python" },
      minReplicas: 2,
      maxReplicas: 7,
      metrics: [
        {
          type: "External",
          external: {
            metric: { name: "agent_queue_backlog", selector: { matchLabels: { agent_type: "python" } } },
            target: { type: "AverageValue", averageValue: "4" },
          },
        },
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
        },
      ],
      behavior: {
        scaleUp: {
          stabilizationWindowSeconds: 30,
          selectPolicy: "Max",
          policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
        },
        scaleDown: {
          stabilizationWindowSeconds: 600,
          selectPolicy: "Min",
          policies: [{ type: "Pods", value: 2, periodSeconds: 60 }],
        },
      },
    });
    // Two pods or more: keep one serving through voluntary evictions.
    expect(named(mocks, K8S.PodDisruptionBudget, "pool-pdb").inputs.spec).toMatchObject({ minAvailable: 1 });
  });

  it("HPA metrics: backlog always, CPU when set, GPU only on GPU pools", () => {
    const python = agentSettings("python");
    expect(hpaMetrics(agentSettings("python", { cpuPercent: null })).map((m) => m.type)).toEqual([
      "External",
    ]);
    expect(hpaMetrics(python).map((m) => m.type)).toEqual(["External", "Resource"]);
    const ml = agentSettings("ml", { cpuPercent: 80 });
    expect(hpaMetrics(ml, false).map((m) => m.type)).toEqual(["External", "Resource"]);
    expect(hpaMetrics(ml, true)[2]).toEqual({
      type: "Pods",
      pods: {
        metric: { name: "DCGM_FI_DEV_GPU_UTIL" },
        target: { type: "AverageValue", averageValue: "60" },
      },
    });
  });
});

describe("AgentPool with a local model", () => {
  it("mounts the shared claim read-only and runs the model as a native sidecar", async () => {
    const args = minimal({
      agent: agentSettings("ml"),
      executor: { kind: "openai", model: "m.gguf", baseUrl: "http://127.0.0.1:9000/v1" },
      model: {
        claimName: "models",
        podAnnotations: { "gke-gcsfuse/volumes": "true" },
        sidecar: {
          image: "llama@sha256:" + "c".repeat(64),
          file: "m.gguf",
          port: 9000,
          contextSize: 4096,
          resources: { requests: { cpu: "2", memory: "4Gi" }, limits: { cpu: "3.5", memory: "6Gi" } },
          mountPath: "/models",
        },
      },
      scheduling: {
        nodeSelector: { "agent-fleet.io/pool": "ml" },
        tolerations: [{ key: "agent-fleet.io/pool", operator: "Equal", value: "ml", effect: "NoSchedule" }],
      },
    });
    const { mocks } = await underMocks(() => new AgentPool("pool", args));
    const workload = named(mocks, K8S.StatefulSet, "pool-workload");
    const pod = podSpecOf(workload);
    expect(pod.volumes).toEqual([
      { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
      { name: "models", persistentVolumeClaim: { claimName: "models", readOnly: true } },
    ]);
    expect(pod).toMatchObject({
      nodeSelector: { "agent-fleet.io/pool": "ml" },
      tolerations: [{ key: "agent-fleet.io/pool", value: "ml", effect: "NoSchedule" }],
    });
    expect(pod.initContainers).toHaveLength(1);
    expect(pod.initContainers?.[0]).toMatchObject({
      name: "model",
      restartPolicy: "Always",
      args: [
        "--model",
        "/models/m.gguf",
        "--host",
        "0.0.0.0",
        "--port",
        "9000",
        "--ctx-size",
        "4096",
        "--threads",
        "3",
      ],
      ports: [{ name: "model", containerPort: 9000 }],
      volumeMounts: [
        { name: "models", mountPath: "/models", readOnly: true },
        { name: "tmp", mountPath: "/tmp" },
      ],
    });
    const annotations = (
      workload.inputs.spec as { template: { metadata: { annotations: Record<string, string> } } }
    ).template.metadata.annotations;
    expect(annotations).toMatchObject({ "gke-gcsfuse/volumes": "true", "prometheus.io/port": "8080" });
    expect(named(mocks, K8S.ConfigMap, "pool-config").inputs.data).toMatchObject({
      EXECUTOR: "openai",
      LLM_MODEL: "m.gguf",
      LLM_BASE_URL: "http://127.0.0.1:9000/v1",
    });
  });
});

describe("AgentPool, canary track", () => {
  it("is a second workload behind the stable Service: no Service, PDB or HPA of its own", async () => {
    const { mocks } = await underMocks(
      () =>
        new AgentPool(
          "canary",
          minimal({ track: "canary", scaling: { mode: "hpa", behavior: BEHAVIOR }, image: "img:canary" }),
        ),
    );
    const workload = named(mocks, K8S.Deployment, "canary-workload");
    expect(workload.inputs.metadata).toMatchObject({ name: "agent-frontend-canary" });
    expect(workload.inputs.spec).toMatchObject({
      replicas: 1,
      selector: { matchLabels: { "agent-fleet.io/track": "canary" } },
    });
    expect(podSpecOf(workload).containers[0]?.image).toBe("img:canary");
    expect(namesOf(mocks, K8S.Service)).toEqual([]);
    expect(namesOf(mocks, K8S.PodDisruptionBudget)).toEqual([]);
    expect(namesOf(mocks, K8S.HorizontalPodAutoscaler)).toEqual([]);
  });
});

describe("validateAgentPoolArgs", () => {
  const hpa = { mode: "hpa", behavior: BEHAVIOR } as const;
  it("names every problem with its property path", () => {
    expect(() => validateAgentPoolArgs("pool", minimal())).not.toThrow();
    expect(() =>
      validateAgentPoolArgs(
        "pool",
        minimal({ scaling: hpa, agent: agentSettings("python", { minReplicas: 0 }) }),
      ),
    ).toThrow('AgentPool "pool": agent.minReplicas: must be >= 1 under an HPA (got 0)');
    expect(() =>
      validateAgentPoolArgs(
        "pool",
        minimal({ scaling: hpa, agent: agentSettings("python", { maxReplicas: 1 }) }),
      ),
    ).toThrow('AgentPool "pool": agent.maxReplicas: must be >= agent.minReplicas (2), got 1');
    expect(() =>
      validateAgentPoolArgs(
        "pool",
        minimal({ agent: agentSettings("frontend", { taskTimeoutSeconds: 0.5 }), image: "" }),
      ),
    ).toThrow(
      'AgentPool "pool": agent.taskTimeoutSeconds: must be a whole number of seconds >= 1 (got 0.5); image: must not be empty',
    );
    expect(() =>
      validateAgentPoolArgs(
        "pool",
        minimal({ agent: { ...agentSettings("python"), name: "cobol" as "python" } }),
      ),
    ).toThrow('AgentPool "pool": agent.name: "cobol" is not an agent type');
  });

  it("agentEnvironment: the agent's own env wins over what the pool sets", () => {
    const env = agentEnvironment(
      minimal({ agent: agentSettings("frontend", { env: { CONCURRENCY: "9", X: "1" } }) }),
    );
    expect(env).toMatchObject({ CONCURRENCY: "9", X: "1", AGENT_TYPE: "frontend" });
  });
});
