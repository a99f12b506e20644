import { describe, expect, it } from "vitest";
import { AGENT_TYPES } from "../../infra/catalog";
import type { RenderResult } from "../../infra/render/render";
import { STAND_IN_HOST, STAND_IN_SHA256 } from "../support/stand-ins";
import {
  byName,
  manifests,
  podSpec,
  renderStackConfig,
  stackConfig,
  workloads,
  type Manifest,
} from "./support/stacks";

const STACKS = ["dev", "staging", "prod"] as const;
/** The model sidecar image staging and prod pin. */
const LLAMA_CPP =
  "ghcr.io/ggml-org/llama.cpp:server@sha256:092d1291f2bcf59ff727fa3af855fb9bd4759d6bff860f6fbfd5e3e377e12625";
const rendered = new Map<string, RenderResult>();
async function render(stack: string): Promise<RenderResult> {
  const cached = rendered.get(stack);
  if (cached) return cached;
  const result = await renderStackConfig(stack);
  rendered.set(stack, result);
  return result;
}

function agentWorkload(r: RenderResult, agent: string): Manifest {
  const kind = r.config.agents[agent as keyof typeof r.config.agents].workload;
  return byName(r, kind, `agent-${agent}`);
}

describe.each(STACKS)("stack %s: the workload layer", (stack) => {
  it("creates one workload per agent with the catalog's kind, plus the router and Redis", async () => {
    const r = await render(stack);
    const deployments = manifests(r, "Deployment")
      .map((m) => m.metadata.name)
      .sort();
    const statefulSets = manifests(r, "StatefulSet")
      .map((m) => m.metadata.name)
      .sort();
    // The capacity plan: the two model-backed agents are StatefulSets, the ten API agents Deployments.
    expect(deployments).toEqual([
      "agent-backend",
      "agent-coordinator",
      "agent-data",
      "agent-devops",
      "agent-frontend",
      "agent-integration",
      "agent-researcher",
      "agent-reviewer",
      "agent-security",
      "agent-tester",
      "task-router",
    ]);
    expect(statefulSets).toEqual(expect.arrayContaining(["agent-ml", "agent-python", "redis"]));
    for (const agent of AGENT_TYPES) {
      expect(byName(r, "Service", `agent-${agent}`).spec).toMatchObject({
        selector: { "agent-fleet.io/agent": agent },
        ports: [{ port: 80, targetPort: "http" }],
      });
      expect(byName(r, "PodDisruptionBudget", `agent-${agent}`).spec, agent).toMatchObject({
        selector: { matchLabels: { "agent-fleet.io/agent": agent, "agent-fleet.io/track": "stable" } },
      });
      expect(byName(r, "ServiceAccount", `agent-${agent}`)).toMatchObject({
        automountServiceAccountToken: false,
      });
    }
    expect(byName(r, "Service", "task-router").spec).toMatchObject({
      selector: { "app.kubernetes.io/name": "task-router" },
      ports: [{ port: 80, targetPort: "http" }],
    });
  });

  it("every container meets the security baseline", async () => {
    const r = await render(stack);
    const pods = workloads(r).filter((w) => w.metadata.namespace === r.config.namespace);
    expect(pods.length).toBeGreaterThan(12);
    for (const w of pods) {
      const spec = podSpec(w);
      expect(spec.securityContext, w.metadata.name).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const where = `${w.metadata.name}/${c.name}`;
        expect(c.securityContext, where).toMatchObject({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(c.resources?.requests, where).toBeDefined();
        expect(c.resources?.limits, where).toBeDefined();
      }
    }
    expect(byName(r, "Namespace", r.config.namespace).metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
    });
  });

  it("has a default-deny NetworkPolicy and explicit allows", async () => {
    const r = await render(stack);
    const names = manifests(r, "NetworkPolicy").map((m) => m.metadata.name);
    expect(byName(r, "NetworkPolicy", "default-deny").spec).toEqual({
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
    });
    expect(names).toEqual(
      expect.arrayContaining([
        "allow-dns",
        "allow-queue-clients-to-redis",
        "allow-agents-llm-egress",
        "allow-prometheus-scrape",
        "redis-ingress",
      ]),
    );
    const llm = byName(r, "NetworkPolicy", "allow-agents-llm-egress").spec as {
      egress: { ports: { port: number }[] }[];
    };
    expect(llm.egress.flatMap((e) => e.ports.map((p) => p.port))).toEqual([443]);
  });

  it("the router runs the runtime's router with tokens from a Secret", async () => {
    const r = await render(stack);
    const router = podSpec(byName(r, "Deployment", "task-router")).containers[0];
    expect(router?.args).toEqual(["router"]);
    expect(router?.env).toEqual(
      expect.arrayContaining([
        { name: "ROUTER_TOKENS_FILE", value: "/etc/agent-fleet/router/tokens" },
        { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-auth", key: "password" } } },
      ]),
    );
    expect(byName(r, "Secret", "task-router-tokens").stringData).toEqual({ tokens: "<redacted>" });
  });
});

describe("autoscaling", () => {
  it("dev: fixed replicas, no HPA", async () => {
    const r = await render("dev");
    expect(manifests(r, "HorizontalPodAutoscaler")).toEqual([]);
    for (const agent of AGENT_TYPES) expect(agentWorkload(r, agent).spec?.replicas).toBe(1);
  });

  // The matrix each stack file asks for, written out (prod: the capacity plan; staging: its overrides of it).
  const MATRIX: Record<"staging" | "prod", Record<string, [min: number, max: number, backlog: number]>> = {
    prod: {
      python: [2, 10, 5],
      frontend: [1, 5, 3],
      backend: [1, 5, 3],
      devops: [1, 3, 2],
      tester: [1, 8, 5],
      researcher: [1, 3, 2],
      coordinator: [1, 2, 5],
      reviewer: [1, 4, 3],
      security: [1, 3, 2],
      data: [1, 4, 3],
      ml: [1, 5, 2],
      integration: [1, 3, 2],
    },
    staging: {
      python: [1, 4, 8],
      frontend: [1, 2, 5],
      backend: [1, 2, 5],
      devops: [1, 3, 5],
      tester: [1, 3, 5],
      researcher: [1, 3, 5],
      coordinator: [1, 2, 5],
      reviewer: [1, 4, 5],
      security: [1, 3, 5],
      data: [1, 4, 5],
      ml: [1, 2, 4],
      integration: [1, 3, 5],
    },
  };
  const BEHAVIOR = {
    prod: { up: [60, 50, 60], down: [300, 1, 120] },
    staging: { up: [120, 25, 120], down: [300, 1, 60] },
  } as const;

  it.each(["staging", "prod"] as const)(
    "%s: one HPA per agent equal to the stack's matrix; workloads carry no replicas",
    async (stack) => {
      const r = await render(stack);
      expect(manifests(r, "HorizontalPodAutoscaler")).toHaveLength(12);
      const { up, down } = BEHAVIOR[stack];
      for (const agent of AGENT_TYPES) {
        const [min, max, backlog] = MATRIX[stack][agent] ?? [];
        const kind = agent === "python" || agent === "ml" ? "StatefulSet" : "Deployment";
        expect(byName(r, kind, `agent-${agent}`).spec, agent).not.toHaveProperty("replicas");
        const metrics: unknown[] = [
          {
            type: "External",
            external: {
              metric: { name: "agent_queue_backlog", selector: { matchLabels: { agent_type: agent } } },
              target: { type: "AverageValue", averageValue: String(backlog) },
            },
          },
        ];
        // Only python has a CPU target in the plan; no stack puts the ml pool on GPUs.
        if (agent === "python") {
          metrics.push({
            type: "Resource",
            resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
          });
        }
        expect(byName(r, "HorizontalPodAutoscaler", `agent-${agent}`).spec, agent).toEqual({
          scaleTargetRef: { apiVersion: "apps/v1", kind, name: `agent-${agent}` },
          minReplicas: min,
          maxReplicas: max,
          metrics,
          behavior: {
            scaleUp: {
              stabilizationWindowSeconds: up[0],
              selectPolicy: "Max",
              policies: [{ type: "Percent", value: up[1], periodSeconds: up[2] }],
            },
            scaleDown: {
              stabilizationWindowSeconds: down[0],
              selectPolicy: "Min",
              policies: [{ type: "Pods", value: down[1], periodSeconds: down[2] }],
            },
          },
        });
      }
    },
  );

  it("an edit of agents.python.maxReplicas changes exactly that HPA and python's backlog alert", async () => {
    const before = await render("prod");
    const after = await renderStackConfig("prod", (v) => {
      v.agents = { python: { maxReplicas: 12 } };
    });
    expect(after.objects.map((o) => o.file)).toEqual(before.objects.map((o) => o.file));
    const changed = after.objects.filter(
      (o, i) => JSON.stringify(o.manifest) !== JSON.stringify(before.objects[i]?.manifest),
    );
    expect(changed.map((o) => o.file)).toEqual([
      "agent-fleet/horizontalpodautoscaler-agent-python.yaml",
      "monitoring/prometheusrule-agent-fleet-alerts.yaml",
    ]);
    expect(changed[0]?.manifest).toMatchObject({ spec: { maxReplicas: 12 } });
    // The backlog ceiling is backlogPerPod x maxReplicas: python's alone moves (prod: 5 per pod).
    const rules = (m: unknown) =>
      (
        m as {
          spec: { groups: { rules: { alert: string; expr: string; labels: Record<string, string> }[] }[] };
        }
      ).spec.groups
        .flatMap((g) => g.rules)
        .filter((r) => r.alert === "AgentBacklogHigh");
    const was = rules(before.objects.find((o) => o.file === changed[1]?.file)?.manifest);
    const now = rules(changed[1]?.manifest);
    expect(now.filter((r, i) => r.expr !== was[i]?.expr).map((r) => r.labels.agent_type)).toEqual(["python"]);
    expect(now.find((r) => r.labels.agent_type === "python")?.expr).toMatch(/> 60$/);
  });
});

describe("models", () => {
  it.each(["staging", "prod"])(
    "%s: model-backed agents mount the shared volume read-only and run the sidecar",
    async (stack) => {
      const r = await render(stack);
      for (const agent of ["python", "ml"]) {
        const spec = podSpec(agentWorkload(r, agent));
        expect(spec.volumes).toContainEqual({
          name: "models",
          persistentVolumeClaim: { claimName: "models", readOnly: true },
        });
        const sidecar = spec.initContainers?.find((c) => c.name === "model");
        expect(sidecar).toMatchObject({ restartPolicy: "Always", image: LLAMA_CPP });
        expect(sidecar?.volumeMounts).toContainEqual({
          name: "models",
          mountPath: "/models",
          readOnly: true,
        });
        expect(sidecar?.args?.slice(0, 2)).toEqual(["--model", "/models/qwen3-8b-q4_k_m.gguf"]);
        const config = byName(r, "ConfigMap", `agent-${agent}`).data as Record<string, string>;
        expect(config).toMatchObject({ EXECUTOR: "openai", LLM_BASE_URL: "http://127.0.0.1:8081/v1" });
      }
      // API agents do not mount models and read their key from the Secret.
      const frontend = podSpec(agentWorkload(r, "frontend"));
      expect(frontend.volumes?.map((v) => v.name)).toEqual(["tmp"]);
      expect(frontend.containers[0]?.env).toContainEqual({
        name: "ANTHROPIC_API_KEY",
        valueFrom: { secretKeyRef: { name: "llm-api-keys", key: "ANTHROPIC_API_KEY" } },
      });
    },
  );

  it("the loader Job verifies checksums and is named after the file list", async () => {
    const r = await render("prod");
    const jobs = manifests(r, "Job");
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.metadata.name).toMatch(/^model-loader-[a-f0-9]{10}$/);
    const loader = byName(r, "ConfigMap", "model-loader").data as Record<string, string>;
    expect(loader.manifest).toBe(
      `qwen3-8b-q4_k_m.gguf ${STAND_IN_SHA256} https://huggingface.co/Qwen/Qwen3-8B-GGUF/resolve/main/Qwen3-8B-Q4_K_M.gguf\n`,
    );
    expect(loader["load.sh"]).toContain("sha256sum -c");
    // Filestore's smallest BASIC_SSD instance is 2.5 TiB, so the claim is raised to it.
    expect(byName(r, "PersistentVolumeClaim", "models").spec).toMatchObject({
      accessModes: ["ReadWriteMany"],
      storageClassName: "agent-fleet-filestore",
      resources: { requests: { storage: "2560Gi" } },
    });
  });

  it("dev (echo executor) creates no model store", async () => {
    const r = await render("dev");
    expect(manifests(r, "PersistentVolumeClaim")).toEqual([]);
    expect(manifests(r, "Job")).toEqual([]);
  });
});

describe("scheduling", () => {
  it("prod: ml runs on the tainted ml pool, others on the agents pool", async () => {
    const r = await render("prod");
    expect(podSpec(agentWorkload(r, "ml"))).toMatchObject({
      nodeSelector: { "agent-fleet.io/pool": "ml" },
      tolerations: [{ key: "agent-fleet.io/pool", operator: "Equal", value: "ml", effect: "NoSchedule" }],
    });
    expect(podSpec(agentWorkload(r, "python")).nodeSelector).toEqual({ "agent-fleet.io/pool": "agents" });
    expect(podSpec(agentWorkload(r, "python")).tolerations).toBeUndefined();
  });

  it.each(STACKS)(
    "%s: every agent's grace period is its longest task plus the drain margin; the runtime drains for the task timeout",
    async (stack) => {
      const r = await render(stack);
      for (const agent of AGENT_TYPES) {
        const timeout = r.config.agents[agent].taskTimeoutSeconds;
        expect(podSpec(agentWorkload(r, agent)).terminationGracePeriodSeconds, agent).toBe(timeout + 10);
        expect(byName(r, "ConfigMap", `agent-${agent}`).data, agent).toMatchObject({
          DRAIN_TIMEOUT_SECONDS: String(timeout),
          TASK_TIMEOUT_MS: String(timeout * 1000),
        });
      }
    },
  );

  it("the task timeouts: dev's 30 s for all; staging and prod the catalog's (python 15 min, ml 30 min, API agents 10 min)", async () => {
    expect(new Set(AGENT_TYPES.map((a) => stackConfig("dev").agents[a].taskTimeoutSeconds))).toEqual(
      new Set([30]),
    );
    for (const stack of ["staging", "prod"]) {
      const agents = stackConfig(stack).agents;
      expect([
        agents.python.taskTimeoutSeconds,
        agents.ml.taskTimeoutSeconds,
        agents.tester.taskTimeoutSeconds,
      ]).toEqual([900, 1800, 600]);
    }
  });

  it("disabling an agent removes its workload", async () => {
    const r = await renderStackConfig("dev", (v) => {
      v.agents = { ml: { enabled: false } };
    });
    expect(manifests(r, "StatefulSet").map((m) => m.metadata.name)).not.toContain("agent-ml");
    expect(stackConfig("dev").enabledAgents).toHaveLength(12);
  });
});

describe("mesh", () => {
  it("prod: header routes per agent, a 10% python canary, retries, and the router as the default", async () => {
    const r = await render("prod");
    const vs = byName(r, "VirtualService", "task-router").spec as {
      hosts: string[];
      http: { name: string; match?: unknown[]; route: unknown[]; retries: unknown }[];
    };
    expect(vs.hosts).toEqual(["task-router", STAND_IN_HOST]);
    expect((vs as { gateways?: string[] }).gateways).toEqual(["mesh", "istio-ingress/task-router"]);
    expect(vs.http.map((h) => h.name)).toEqual([...AGENT_TYPES, "router"]);
    const python = vs.http[0];
    expect(python?.match).toEqual([
      { headers: { "task-type": { regex: "^(code-generation|python-scripting)$" } } },
    ]);
    expect(python?.route).toEqual([
      { destination: { host: "agent-python", subset: "stable" }, weight: 90 },
      { destination: { host: "agent-python", subset: "canary" }, weight: 10 },
    ]);
    // Retried only where nothing ran; a slow task ends the request (per-try = request timeout).
    expect(python?.retries).toEqual({
      attempts: 2,
      perTryTimeout: "905s",
      retryOn: "connect-failure,refused-stream,429",
    });
    expect((python as { timeout?: string } | undefined)?.timeout).toBe("905s");
    expect(vs.http[1]?.route).toEqual([{ destination: { host: "agent-frontend", subset: "stable" } }]);
    expect(vs.http[12]?.route).toEqual([{ destination: { host: "task-router" } }]);
    const rule = byName(r, "DestinationRule", "agent-python").spec;
    expect(rule).toMatchObject({
      trafficPolicy: {
        outlierDetection: { consecutive5xxErrors: 5, maxEjectionPercent: 50 },
        connectionPool: { http: { http1MaxPendingRequests: 64 } },
      },
      subsets: [
        { name: "stable", labels: { "agent-fleet.io/track": "stable" } },
        { name: "canary", labels: { "agent-fleet.io/track": "canary" } },
      ],
    });
    // The canary is a second workload with its own image behind the same Service, without an HPA:
    // built by AgentImages (AGENT_TRACK=canary) and pinned by that build's digest, not a tag.
    const canary = byName(r, "StatefulSet", "agent-python-canary");
    expect(canary.spec).toMatchObject({ replicas: 1 });
    const canaryImage = podSpec(canary).containers[0]?.image;
    expect(canaryImage).toMatch(
      /^europe-west4-docker\.pkg\.dev\/agent-fleet-prod\/agent-fleet\/agent-python@sha256:[a-f0-9]{64}$/,
    );
    expect(canaryImage).not.toBe(podSpec(agentWorkload(r, "python")).containers[0]?.image);
    const build = r.others.find((o) => o.name === "images-python-canary");
    expect(build?.inputs).toMatchObject({
      target: "agent",
      buildArgs: { AGENT_TYPE: "python", AGENT_TRACK: "canary" },
    });
    expect(manifests(r, "HorizontalPodAutoscaler").map((h) => h.metadata.name)).not.toContain(
      "agent-python-canary",
    );
    expect(byName(r, "Service", "agent-python").spec).toMatchObject({
      selector: { "agent-fleet.io/agent": "python" },
    });
    expect(byName(r, "Namespace", "agent-fleet").metadata.labels).toMatchObject({
      "istio-injection": "enabled",
    });
  });

  it.each(["staging", "prod"] as const)(
    "%s: mTLS STRICT, deny-by-default authorization, the CNI node agent, an ingress with cert-manager TLS",
    async (stack) => {
      const r = await render(stack);
      expect(byName(r, "PeerAuthentication", "default").spec).toEqual({ mtls: { mode: "STRICT" } });
      expect(manifests(r, "AuthorizationPolicy").map((p) => p.metadata.name)).toEqual([
        "agents-from-router-and-gateway",
        "deny-by-default",
        "redis-from-queue-clients",
        "router-from-gateway-and-clients",
      ]);
      for (const rule of manifests(r, "DestinationRule")) {
        expect(
          (rule.spec as { trafficPolicy: { tls: unknown } }).trafficPolicy.tls,
          rule.metadata.name,
        ).toEqual({
          mode: "ISTIO_MUTUAL",
        });
      }
      const releases = r.others.filter((o) => o.type === "kubernetes:helm.sh/v3:Release");
      const chart = (name: string) => releases.find((o) => o.inputs.chart === name)?.inputs;
      const platform = stack === "prod" ? "gke" : "k3s";
      expect(chart("cni")).toMatchObject({ namespace: "istio-system", values: { global: { platform } } });
      expect(chart("istiod")).toMatchObject({ values: { pilot: { cni: { enabled: true } } } });
      expect(chart("gateway")).toMatchObject({ namespace: "istio-ingress", name: "istio-ingressgateway" });
      expect(byName(r, "Namespace", "istio-system").metadata.labels).toMatchObject({
        "pod-security.kubernetes.io/enforce": "privileged",
      });
      expect(byName(r, "Namespace", "istio-ingress").metadata.labels).toMatchObject({
        "pod-security.kubernetes.io/enforce": "restricted",
      });
      expect(byName(r, "Namespace", "agent-fleet").metadata.labels).toMatchObject({
        "pod-security.kubernetes.io/enforce": "restricted",
      });
      expect(byName(r, "Certificate", "task-router-tls").spec).toMatchObject({
        dnsNames: [STAND_IN_HOST],
        issuerRef: { name: "letsencrypt", kind: "ClusterIssuer" },
      });
      // Retries only where nothing ran, and each agent's timeout from its task timeout.
      const vs = byName(r, "VirtualService", "task-router").spec as {
        http: { name: string; timeout: string; retries: { retryOn: string; perTryTimeout: string } }[];
      };
      for (const route of vs.http.filter((h) => h.name !== "router")) {
        const timeout = `${r.config.agents[route.name as keyof typeof r.config.agents].taskTimeoutSeconds + 5}s`;
        expect(route, route.name).toMatchObject({
          timeout,
          retries: { retryOn: "connect-failure,refused-stream,429", perTryTimeout: timeout },
        });
      }
      // Redis never blocks a drain.
      expect(byName(r, "PodDisruptionBudget", "redis").spec).toMatchObject({ maxUnavailable: 1 });
    },
  );

  it.each(["staging", "prod"] as const)("%s: every container image is pinned by digest", async (stack) => {
    const r = await render(stack);
    const images = workloads(r).flatMap((w) => {
      const pod = podSpec(w);
      return [...pod.containers, ...(pod.initContainers ?? [])].map(
        (c) => `${w.metadata.name}: ${String(c.image)}`,
      );
    });
    expect(images.length).toBeGreaterThan(14);
    expect(images.filter((i) => !/@sha256:[a-f0-9]{64}$/.test(i))).toEqual([]);
  });

  it("dev (Istio disabled) has no mesh objects", async () => {
    const r = await render("dev");
    expect(manifests(r, "VirtualService")).toEqual([]);
    expect(manifests(r, "DestinationRule")).toEqual([]);
  });

  it("prod installs kube-prometheus-stack and the adapter (their values: platform/observability.test.ts)", async () => {
    const r = await render("prod");
    expect(r.others.filter((o) => o.name.startsWith("observability-")).map((o) => o.name)).toEqual([
      "observability-kube-prometheus-stack",
      "observability-adapter",
    ]);
  });
});

describe("capacity", () => {
  it("render fails with a clear message when an agent's max scale cannot fit its pool", async () => {
    await expect(
      renderStackConfig("prod", (v) => {
        v.agents = { python: { maxReplicas: 60 } };
      }),
    ).rejects.toThrow(/capacity check failed:[\s\S]*python/);
  });
});
