import { describe, expect, it } from "vitest";
import { AGENT_CATALOG, AGENT_TYPES } from "../../infra/catalog";
import { renderConfig, type RenderResult } from "../../infra/render/render";
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
    const expectDeployments = AGENT_TYPES.filter((a) => AGENT_CATALOG[a].workload === "Deployment").map(
      (a) => `agent-${a}`,
    );
    const expectStatefulSets = AGENT_TYPES.filter((a) => AGENT_CATALOG[a].workload === "StatefulSet").map(
      (a) => `agent-${a}`,
    );
    expect(deployments).toEqual([...expectDeployments, "task-router"].sort());
    expect(statefulSets).toEqual(expect.arrayContaining([...expectStatefulSets, "redis"]));
    for (const agent of AGENT_TYPES) {
      expect(byName(r, "Service", `agent-${agent}`).spec).toMatchObject({
        ports: [{ port: 80, targetPort: "http" }],
      });
      expect(byName(r, "PodDisruptionBudget", `agent-${agent}`)).toBeDefined();
      expect(byName(r, "ServiceAccount", `agent-${agent}`)).toMatchObject({
        automountServiceAccountToken: false,
      });
    }
    expect(byName(r, "Service", "task-router")).toBeDefined();
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

  it.each(["staging", "prod"])(
    "%s: one HPA per agent equal to the config matrix; workloads carry no replicas",
    async (stack) => {
      const r = await render(stack);
      const hpas = manifests(r, "HorizontalPodAutoscaler");
      expect(hpas).toHaveLength(12);
      const behavior = r.config.autoscaling.mode === "hpa" ? r.config.autoscaling.behavior : undefined;
      for (const agent of AGENT_TYPES) {
        const a = r.config.agents[agent];
        const hpa = byName(r, "HorizontalPodAutoscaler", `agent-${agent}`);
        expect(agentWorkload(r, agent).spec).not.toHaveProperty("replicas");
        const metrics: unknown[] = [
          {
            type: "External",
            external: {
              metric: { name: "agent_queue_backlog", selector: { matchLabels: { agent_type: agent } } },
              target: { type: "AverageValue", averageValue: String(a.backlogPerPod) },
            },
          },
        ];
        if (a.cpuPercent !== undefined) {
          metrics.push({
            type: "Resource",
            resource: { name: "cpu", target: { type: "Utilization", averageUtilization: a.cpuPercent } },
          });
        }
        expect(hpa.spec).toEqual({
          scaleTargetRef: { apiVersion: "apps/v1", kind: a.workload, name: `agent-${agent}` },
          minReplicas: a.minReplicas,
          maxReplicas: a.maxReplicas,
          metrics,
          behavior: {
            scaleUp: {
              stabilizationWindowSeconds: behavior?.scaleUp.stabilizationWindowSeconds,
              selectPolicy: "Max",
              policies: [
                {
                  type: "Percent",
                  value: behavior?.scaleUp.percent,
                  periodSeconds: behavior?.scaleUp.periodSeconds,
                },
              ],
            },
            scaleDown: {
              stabilizationWindowSeconds: behavior?.scaleDown.stabilizationWindowSeconds,
              selectPolicy: "Min",
              policies: [
                {
                  type: "Pods",
                  value: behavior?.scaleDown.pods,
                  periodSeconds: behavior?.scaleDown.periodSeconds,
                },
              ],
            },
          },
        });
      }
      // The plan's numbers on prod: python 2..10 on backlog 5/pod or CPU 70%.
      if (stack === "prod") {
        expect(byName(r, "HorizontalPodAutoscaler", "agent-python").spec).toMatchObject({
          minReplicas: 2,
          maxReplicas: 10,
        });
      }
    },
  );

  it("an edit of agents.python.maxReplicas changes exactly that HPA", async () => {
    const before = await render("prod");
    const after = await renderStackConfig("prod", (v) => {
      v.agents = { python: { maxReplicas: 12 } };
    });
    expect(after.objects.map((o) => o.file)).toEqual(before.objects.map((o) => o.file));
    const changed = after.objects.filter(
      (o, i) => JSON.stringify(o.manifest) !== JSON.stringify(before.objects[i]?.manifest),
    );
    expect(changed.map((o) => o.file)).toEqual(["agent-fleet/horizontalpodautoscaler-agent-python.yaml"]);
    expect(changed[0]?.manifest).toMatchObject({ spec: { maxReplicas: 12 } });
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
        expect(sidecar).toMatchObject({ restartPolicy: "Always", image: r.config.models.sidecar.image });
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
      `qwen3-8b-q4_k_m.gguf ${"0".repeat(64)} https://huggingface.co/Qwen/Qwen3-8B-GGUF/resolve/main/Qwen3-8B-Q4_K_M.gguf\n`,
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

  it("grace period matches the runtime's drain deadline", async () => {
    const r = await render("dev");
    const python = agentWorkload(r, "python");
    expect(podSpec(python).terminationGracePeriodSeconds).toBe(30);
    expect(byName(r, "ConfigMap", "agent-python").data).toMatchObject({ DRAIN_TIMEOUT_SECONDS: "20" });
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
    expect(vs.hosts).toEqual(["task-router"]);
    expect(vs.http.map((h) => h.name)).toEqual([...AGENT_TYPES, "router"]);
    const python = vs.http[0];
    expect(python?.match).toEqual([
      { headers: { "task-type": { regex: "^(code-generation|python-scripting)$" } } },
    ]);
    expect(python?.route).toEqual([
      { destination: { host: "agent-python", subset: "stable" }, weight: 90 },
      { destination: { host: "agent-python", subset: "canary" }, weight: 10 },
    ]);
    expect(python?.retries).toEqual({
      attempts: 3,
      perTryTimeout: "60s",
      retryOn: "5xx,reset,connect-failure,refused-stream,429",
    });
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
    // The canary is a second workload with its own image behind the same Service, without an HPA.
    const canary = byName(r, "StatefulSet", "agent-python-canary");
    expect(canary.spec).toMatchObject({ replicas: 1 });
    expect(podSpec(canary).containers[0]?.image).toBe(r.config.mesh.istio.canary?.image);
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

  it("dev (Istio disabled) has no mesh objects", async () => {
    const r = await render("dev");
    expect(manifests(r, "VirtualService")).toEqual([]);
    expect(manifests(r, "DestinationRule")).toEqual([]);
  });

  it("observability: the adapter serves the backlog as max per agent", async () => {
    const r = await render("prod");
    const adapter = r.others.find((o) => o.name === "observability-adapter");
    expect(adapter?.inputs).toMatchObject({
      chart: "prometheus-adapter",
      values: {
        rules: {
          external: [
            {
              name: { as: "agent_queue_backlog" },
              metricsQuery: "max(agent_queue_backlog{<<.LabelMatchers>>}) by (agent_type)",
            },
          ],
        },
        resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
      },
    });
  });

  it("observability: Prometheus has requests (the capacity report counts them) and no extra exporters", async () => {
    const r = await render("prod");
    const prometheus = r.others.find((o) => o.name === "observability-prometheus");
    expect(prometheus?.inputs).toMatchObject({
      chart: "prometheus",
      values: {
        server: { resources: { requests: { cpu: "500m", memory: "2Gi" }, limits: { memory: "4Gi" } } },
        "prometheus-node-exporter": { enabled: false },
        "kube-state-metrics": { enabled: false },
        alertmanager: { enabled: false },
      },
    });
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

describe("render details the API server depends on", () => {
  it("the hcloud-nfs volume points at the NFS Service's cluster IP (a stand-in under mocks)", async () => {
    const r = await render("staging");
    const pv = byName(r, "PersistentVolume", "agent-fleet-models") as Manifest & {
      spec: { nfs: { server: string } };
    };
    expect(pv.spec.nfs.server).toMatch(/^10\.96\.\d+\.\d+$/);
  });

  it("Secrets: keys only by default; the mocks' stand-in values only when asked", async () => {
    const redacted = byName(await render("staging"), "Secret", "registry-credentials");
    expect(redacted.stringData).toEqual({ ".dockerconfigjson": "<redacted>" });
    const standIns = await renderConfig(stackConfig("staging"), "staging", "stand-ins");
    const secret = byName(standIns, "Secret", "registry-credentials") as Manifest & {
      stringData: Record<string, string>;
    };
    const config = JSON.parse(secret.stringData[".dockerconfigjson"] ?? "") as {
      auths: Record<string, { auth: string }>;
    };
    // user:password, the password being the stand-in for the never-decrypted `secure:` value.
    const auth = Buffer.from(config.auths["ghcr.io"]?.auth ?? "", "base64").toString();
    expect(auth).toMatch(/^agent-fleet-ci:.+$/);
  });
});
