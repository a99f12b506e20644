import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { AGENT_CATALOG, AGENT_TYPES } from "../../../infra/catalog";
import { formatKeyPath, StackConfigError } from "../../../infra/config/errors";
import { fromEngineConfig, PROVIDER_NAMESPACES, readStackFile } from "../../../infra/config/load";
import { resolveStackConfig, type FleetConfig } from "../../../infra/config/resolve";
import { withStandIns } from "../../support/stand-ins";

const ROOT = join(__dirname, "..", "..", "..");
const FILE = "Pulumi.test.yaml";

/** A minimal valid stack: existing cluster, HPA, prebuilt images, the echo executor. */
function base(): Record<string, unknown> {
  return {
    cluster: { provider: "existing" },
    autoscaling: { mode: "hpa" },
    images: { source: "prebuilt", repository: "ghcr.io/acme", tag: "1.0.0" },
    runtime: { executor: "echo" },
  };
}

/** A valid LLM stack: local models on a shared storage class, Anthropic key as a secret. */
function llmBase(): Record<string, unknown> {
  return {
    ...base(),
    runtime: { executor: "llm" },
    models: {
      backend: { kind: "storage-class", storageClass: "nfs-client" },
      files: [{ name: "qwen3-8b-q4_k_m.gguf", url: "https://models.example/q.gguf", sha256: "a".repeat(64) }],
      loaderImage: `curl@sha256:${"b".repeat(64)}`,
      sidecar: { image: `llama@sha256:${"c".repeat(64)}` },
    },
    secrets: { backend: "pulumi", apiKeys: ["anthropic"] },
    anthropicApiKey: "sk-test",
  };
}

function resolve(values: Record<string, unknown>, secretKeys: string[] = []): FleetConfig {
  return resolveStackConfig({ file: FILE, values, secretKeys: new Set(secretKeys) });
}

function errorsOf(values: Record<string, unknown>, secretKeys: string[] = []): string[] {
  try {
    resolve(values, secretKeys);
  } catch (err) {
    if (err instanceof StackConfigError) return err.lines;
    throw err;
  }
  throw new Error("expected config errors, got none");
}

function withAgents(values: Record<string, unknown>, agents: Record<string, unknown>) {
  return { ...values, agents };
}

/** A stack file as read, with the test stand-ins for the placeholders staging and prod ship. */
function standInFile(stack: string) {
  const file = readStackFile(join(ROOT, `Pulumi.${stack}.yaml`));
  withStandIns(file.values);
  return file;
}

describe("stack files", () => {
  it.each(["dev", "staging", "prod", "e2e"])("Pulumi.%s.yaml parses and resolves", (stack) => {
    const config = resolveStackConfig(standInFile(stack));
    expect(config.enabledAgents).toHaveLength(12);
  });

  it.each(["staging", "prod"])(
    "Pulumi.%s.yaml as shipped fails on exactly its two placeholders: the model's checksum and the public host",
    (stack) => {
      const shipped = readStackFile(join(ROOT, `Pulumi.${stack}.yaml`));
      const error = (() => {
        try {
          resolveStackConfig(shipped);
        } catch (err) {
          if (err instanceof StackConfigError) return err;
        }
        throw new Error("expected config errors, got none");
      })();
      expect(error.lines.map((i) => i.split(" = ")[0])).toEqual([
        `Pulumi.${stack}.yaml: agent-fleet:models.files[0].sha256`,
        `Pulumi.${stack}.yaml: agent-fleet:mesh.istio.ingress.host`,
      ]);
    },
  );

  it("dev is an existing cluster with one fixed pod per agent", () => {
    const dev = resolveStackConfig(readStackFile(join(ROOT, "Pulumi.dev.yaml")));
    expect(dev.cluster.provider).toBe("existing");
    expect(dev.autoscaling.mode).toBe("fixed");
    expect(new Set(dev.enabledAgents.map((a) => a.replicas))).toEqual(new Set([1]));
  });

  it("staging is hetzner-k3s with conservative autoscaling; prod is gke with the plan's matrix", () => {
    const staging = resolveStackConfig(standInFile("staging"));
    const prod = resolveStackConfig(standInFile("prod"));
    expect(staging.cluster.provider).toBe("hetzner-k3s");
    expect(prod.cluster.provider).toBe("gke");
    for (const name of AGENT_TYPES) {
      const s = staging.agents[name];
      const p = prod.agents[name];
      expect(p.minReplicas).toBe(AGENT_CATALOG[name].minReplicas);
      expect(p.maxReplicas).toBe(AGENT_CATALOG[name].maxReplicas);
      expect(p.backlogPerPod).toBe(AGENT_CATALOG[name].backlogPerPod);
      // Conservative: never more pods, never a lower backlog threshold than prod.
      expect(s.maxReplicas).toBeLessThanOrEqual(p.maxReplicas);
      expect(s.backlogPerPod).toBeGreaterThanOrEqual(p.backlogPerPod);
    }
    expect(prod.autoscaling).toEqual({
      mode: "hpa",
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 60, percent: 50, periodSeconds: 60 },
        scaleDown: { stabilizationWindowSeconds: 300, pods: 1, periodSeconds: 120 },
      },
    });
  });

  it("an edit of agents.python.maxReplicas changes exactly that value", () => {
    const path = join(ROOT, "Pulumi.prod.yaml");
    const before = resolveStackConfig(standInFile("prod"));
    const doc = parse(readFileSync(path, "utf8")) as { config: Record<string, unknown> };
    doc.config["agent-fleet:agents"] = { python: { maxReplicas: 20 } };
    const file = standInFile("prod");
    const edited = parse(stringify(doc)) as { config: Record<string, unknown> };
    const after = resolveStackConfig({
      ...file,
      values: { ...file.values, agents: edited.config["agent-fleet:agents"] },
    });
    expect(after.agents.python.maxReplicas).toBe(20);
    const strip = (c: FleetConfig) => {
      const copy = structuredClone(c);
      copy.agents.python.maxReplicas = 0;
      const python = copy.enabledAgents.find((a) => a.name === "python");
      if (python) python.maxReplicas = 0;
      return copy;
    };
    expect(strip(after)).toEqual(strip(before));
  });
});

describe("config namespaces", () => {
  it("the known namespaces are Pulumi's and those of the provider SDKs package.json takes as peers", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      peerDependencies: Record<string, string>;
    };
    const providers = Object.keys(pkg.peerDependencies)
      .filter((d) => d.startsWith("@pulumi/") && d !== "@pulumi/pulumi")
      .map((d) => d.slice("@pulumi/".length));
    expect([...PROVIDER_NAMESPACES].sort()).toEqual(["pulumi", ...providers].sort());
  });

  it("pulumi up refuses a key in an unknown namespace too, with the closest valid one", () => {
    const raw = fromEngineConfig(
      "dev",
      {
        "agent-fleet:cluster": JSON.stringify({ provider: "existing" }),
        "agent-fleet:autoscaling": JSON.stringify({ mode: "hpa" }),
        "agent-fleet:images": JSON.stringify({ source: "prebuilt", repository: "r", tag: "1" }),
        "agent-fleet:runtime": JSON.stringify({ executor: "echo" }),
        "agent-flet:router": JSON.stringify({ replicas: 1 }),
        "kubernetes:context": "kind",
      },
      () => false,
    );
    expect(() => resolveStackConfig(raw)).toThrow(
      'Pulumi.dev.yaml: agent-flet:router: unknown config namespace "agent-flet" (did you mean "agent-fleet:router"?)',
    );
  });
});

describe("defaults merge", () => {
  it("a stack file holds only what differs: catalog values fill the rest", () => {
    const c = resolve(withAgents(base(), { tester: { maxReplicas: 12 } }));
    expect(c.agents.tester).toMatchObject({
      minReplicas: 1,
      maxReplicas: 12,
      backlogPerPod: 5,
      workload: "Deployment",
    });
    expect(c.agents.python.requests).toEqual({ cpu: "4", memory: "8Gi" });
  });

  it("agentDefaults apply to every agent and agents.<name> wins over them", () => {
    const c = resolve({
      ...base(),
      agentDefaults: { concurrency: 8, resources: { requests: { cpu: "100m" } } },
      agents: { python: { resources: { requests: { cpu: "2" } } } },
    });
    expect(c.agents.frontend.concurrency).toBe(8);
    expect(c.agents.frontend.requests).toEqual({ cpu: "100m", memory: "2Gi" });
    expect(c.agents.python.requests).toEqual({ cpu: "2", memory: "8Gi" });
  });

  it("disabled agents stay in agents but not in enabledAgents", () => {
    const c = resolve(withAgents(base(), { ml: { enabled: false } }));
    expect(c.enabledAgents.map((a) => a.name)).not.toContain("ml");
    expect(c.agents.ml.enabled).toBe(false);
  });

  it("cpuPercent: null turns the CPU metric off", () => {
    const c = resolve(withAgents(base(), { python: { cpuPercent: null } }));
    expect(c.agents.python.cpuPercent).toBeUndefined();
  });
});

describe("errors name the file, the key path, the value and what is allowed", () => {
  it("formats key paths as pulumi config set --path writes them", () => {
    expect(formatKeyPath(["agents", "python", "maxReplicas"])).toBe("agent-fleet:agents.python.maxReplicas");
    expect(formatKeyPath(["models", "files", 0, "sha256"])).toBe("agent-fleet:models.files[0].sha256");
    expect(formatKeyPath(["cluster", "nodePools", "ml", "labels", "agent-fleet.io/pool"])).toBe(
      'agent-fleet:cluster.nodePools.ml.labels["agent-fleet.io/pool"]',
    );
  });

  it("min <= max", () => {
    expect(errorsOf(withAgents(base(), { python: { maxReplicas: 1 } }))).toEqual([
      "Pulumi.test.yaml: agent-fleet:agents.python.maxReplicas = 1: must be >= minReplicas (2)",
    ]);
    expect(errorsOf(withAgents(base(), { coordinator: { minReplicas: 3 } }))).toEqual([
      "Pulumi.test.yaml: agent-fleet:agents.coordinator.minReplicas = 3: must be <= maxReplicas (2)",
    ]);
  });

  it("observability: tracing needs an endpoint or the collector; the plain chart reads no operator objects", () => {
    expect(
      errorsOf({
        ...base(),
        observability: {
          prometheus: { install: true, operator: true },
          tracing: { enabled: true, collector: { exportTo: "http://jaeger.tracing.svc:4318" } },
        },
      }),
    ).toEqual([
      "Pulumi.test.yaml: agent-fleet:observability.tracing.endpoint: required when tracing is enabled and collector.install is false (your collector's OTLP/HTTP address)",
      'Pulumi.test.yaml: agent-fleet:observability.tracing.collector.exportTo = "http://jaeger.tracing.svc:4318": is only used with collector.install: true',
      'Pulumi.test.yaml: agent-fleet:observability.prometheus.operator = true: the prometheus chart does not read PrometheusRule or PodMonitor objects: set chart: "kube-prometheus-stack", or operator: false',
    ]);
    expect(
      errorsOf({ ...base(), observability: { alerts: { sla: { P1: "5 minutes" }, errorRatio: 2 } } }),
    ).toEqual([
      'Pulumi.test.yaml: agent-fleet:observability.alerts.sla.P1 = "5 minutes": expected a duration such as "30s", "5m" or "1h"',
      "Pulumi.test.yaml: agent-fleet:observability.alerts.errorRatio = 2: must be <= 1",
    ]);
    const traced = resolve({
      ...base(),
      observability: { tracing: { enabled: true, collector: { install: true } } },
    });
    expect(traced.observability.tracing).toEqual({
      enabled: true,
      sampleRatio: 1,
      collector: { install: true },
    });
  });

  it("limits >= requests", () => {
    expect(errorsOf(withAgents(base(), { backend: { resources: { limits: { cpu: "500m" } } } }))).toEqual([
      'Pulumi.test.yaml: agent-fleet:agents.backend.resources.limits.cpu = "500m": must be >= requests.cpu (1)',
    ]);
    expect(errorsOf(withAgents(base(), { ml: { resources: { requests: { memory: "100Gi" } } } }))).toEqual([
      'Pulumi.test.yaml: agent-fleet:agents.ml.resources.requests.memory = "100Gi": must be <= limits.memory (64Gi)',
    ]);
  });

  it("a limit below the request in agentDefaults is reported once, at agentDefaults, naming the agents", () => {
    const values = { ...base(), agentDefaults: { resources: { limits: { cpu: "1500m" } } } };
    expect(errorsOf(values)).toEqual([
      'Pulumi.test.yaml: agent-fleet:agentDefaults.resources.limits.cpu = "1500m": must be >= requests.cpu of every agent it applies to: python (4), ml (8)',
    ]);
    // An agent's own override at fault is reported there; agentDefaults' fault stays one line.
    const own = {
      ...base(),
      agentDefaults: { resources: { requests: { memory: "5Gi" } } },
      agents: { python: { resources: { limits: { memory: "1Gi" } } } },
    };
    expect(errorsOf(own)).toEqual([
      'Pulumi.test.yaml: agent-fleet:agents.python.resources.limits.memory = "1Gi": must be >= requests.memory (5Gi)',
      `Pulumi.test.yaml: agent-fleet:agentDefaults.resources.requests.memory = "5Gi": must be <= limits.memory of every agent it applies to: ${["frontend", "backend", "devops", "tester", "researcher", "coordinator", "reviewer", "security", "data", "integration"].map((a) => `${a} (4Gi)`).join(", ")}`,
    ]);
  });

  it("agentDefaults replica bounds are reported once at agentDefaults", () => {
    expect(errorsOf({ ...base(), agentDefaults: { maxReplicas: 1 } })).toEqual([
      "Pulumi.test.yaml: agent-fleet:agentDefaults.maxReplicas = 1: must be >= minReplicas of every agent it applies to: python (2)",
    ]);
    expect(errorsOf({ ...base(), agentDefaults: { minReplicas: 0 } })).toEqual([
      `Pulumi.test.yaml: agent-fleet:agentDefaults.minReplicas = 0: must be >= 1 under autoscaling.mode hpa (scale to zero needs the HPAScaleToZero feature gate); it applies to: ${AGENT_TYPES.join(", ")}`,
    ]);
  });

  it("canary weight 0..100 and only for an enabled agent", () => {
    const canary = (c: Record<string, unknown>, agents: Record<string, unknown> = {}) => ({
      ...base(),
      agents,
      mesh: { istio: { canary: { image: "ghcr.io/acme/agent-python:canary", ...c } } },
    });
    expect(errorsOf(canary({ agent: "python", weight: 150 }))).toEqual([
      "Pulumi.test.yaml: agent-fleet:mesh.istio.canary.weight = 150: must be from 0 to 100",
    ]);
    expect(errorsOf(canary({ agent: "python", weight: 10 }, { python: { enabled: false } }))).toEqual([
      'Pulumi.test.yaml: agent-fleet:mesh.istio.canary.agent = "python": agent "python" is disabled (agents.python.enabled = false); a canary needs an enabled agent',
    ]);
    expect(errorsOf(canary({ agent: "pyhton", weight: 10 }))).toEqual([
      `Pulumi.test.yaml: agent-fleet:mesh.istio.canary.agent = "pyhton": unknown agent; allowed agents: ${AGENT_TYPES.join(", ")}`,
    ]);
  });

  it("requireDigests: every image the stack runs is pinned; each mutable one is named, with all missing digests at once", () => {
    const digest = (c: string) => `sha256:${c.repeat(64)}`;
    const values = {
      ...base(),
      images: {
        source: "prebuilt",
        repository: "ghcr.io/acme",
        tag: "1.0.0",
        requireDigests: true,
        digests: { python: digest("a"), router: digest("b") },
      },
      queue: { mode: "in-cluster", image: "redis:7.4-alpine" },
      mesh: { istio: { canary: { agent: "python", weight: 5, image: "ghcr.io/acme/agent-python:canary" } } },
    };
    const why = "images.requireDigests is true: pin it by digest, <repository>[:tag]@sha256:<64 hex>";
    const errors = errorsOf(values);
    expect(errors).toEqual([
      `Pulumi.test.yaml: agent-fleet:queue.image = "redis:7.4-alpine": is mutable; ${why}`,
      `Pulumi.test.yaml: agent-fleet:mesh.istio.canary.image = "ghcr.io/acme/agent-python:canary": is mutable; ${why}`,
      `Pulumi.test.yaml: agent-fleet:images.digests: has no digest for ${AGENT_TYPES.filter((a) => a !== "python").join(", ")}; ${why} (the digests of the build to promote)`,
    ]);
    // Pinned everywhere: accepted; the default Redis image is pinned already.
    const digests = Object.fromEntries([...AGENT_TYPES, "router"].map((n) => [n, digest("c")]));
    const pinned = {
      ...values,
      images: { ...values.images, digests },
      queue: { mode: "in-cluster" },
      mesh: {
        istio: { canary: { agent: "python", weight: 5, image: `ghcr.io/acme/agent-python@${digest("d")}` } },
      },
    };
    expect(resolve(pinned).queue).toMatchObject({
      image: expect.stringMatching(/^docker\.io\/library\/redis:7\.4-alpine@sha256:/) as unknown,
    });
  });

  it("a canary of prebuilt images names its image; built images build it", () => {
    const values = { ...base(), mesh: { istio: { canary: { agent: "python", weight: 5 } } } };
    expect(errorsOf(values)).toEqual([
      "Pulumi.test.yaml: agent-fleet:mesh.istio.canary.image: required with images.source: prebuilt (give the canary's image by digest; with images.source: build it is built with the others)",
    ]);
  });

  it("mesh retries: only conditions under which nothing ran; every unsafe one is named", () => {
    const values = { ...base(), mesh: { istio: { retries: { retryOn: "connect-failure,5xx,reset,429" } } } };
    expect(errorsOf(values)).toEqual([
      'Pulumi.test.yaml: agent-fleet:mesh.istio.retries.retryOn = "connect-failure,5xx,reset,429": "5xx", "reset" may retry a task after it started (LLM work is billed and not idempotent); allowed: connect-failure, refused-stream, 429',
    ]);
    expect(errorsOf({ ...base(), mesh: { istio: { retries: { perTryTimeout: "60s" } } } })[0]).toMatch(
      /mesh\.istio\.retries\.perTryTimeout: unknown key/,
    );
  });

  it("the ingress host must be a real one, and TLS says where the certificate comes from", () => {
    const ingress = (i: Record<string, unknown>) => ({ ...base(), mesh: { istio: { ingress: i } } });
    expect(errorsOf(ingress({ host: "fleet.example.org", tls: { secretName: "fleet-tls" } }))).toEqual([
      "Pulumi.test.yaml: agent-fleet:mesh.istio.ingress.host = \"fleet.example.org\": is a reserved example domain (RFC 2606), not a host clients can reach: set the router's real public host name (its DNS record points at the ingress gateway's load balancer)",
    ]);
    expect(errorsOf(ingress({ host: "fleet.acme.dev", tls: {} }))).toEqual([
      "Pulumi.test.yaml: agent-fleet:mesh.istio.ingress.tls = {}: expected { secretName: <TLS Secret> } or { issuer: { name, kind } } (cert-manager)",
    ]);
    expect(
      resolve(ingress({ host: "fleet.acme.dev", tls: { issuer: { name: "le" } } })).mesh.istio.ingress,
    ).toEqual({
      host: "fleet.acme.dev",
      tls: { issuer: { name: "le", kind: "ClusterIssuer" } },
    });
  });

  it("an all-zero model checksum is refused, naming the file and where to find the published one", () => {
    const values = llmBase();
    (values.models as { files: { sha256: string }[] }).files[0]!.sha256 = "0".repeat(64);
    expect(errorsOf(values, ["anthropicApiKey"])).toEqual([
      `Pulumi.test.yaml: agent-fleet:models.files[0].sha256 = "${"0".repeat(64)}": is the all-zero placeholder for "qwen3-8b-q4_k_m.gguf": the loader refuses the file, so the agents serving it never become ready. Set the file's published sha256: on Hugging Face, the file's page shows it under "Git LFS Details" (SHA256), or download once and run \`sha256sum qwen3-8b-q4_k_m.gguf\``,
    ]);
  });

  it("a model-backed agent needs a model file", () => {
    const values = { ...llmBase(), agents: { python: { model: { kind: "local", file: "other.gguf" } } } };
    expect(errorsOf(values, ["anthropicApiKey"])).toEqual([
      'Pulumi.test.yaml: agent-fleet:agents.python.model.file = "other.gguf": no entry in models.files is named "other.gguf"; add { name, url, sha256 } to models.files',
    ]);
  });

  it("local models need a backend, a pinned sidecar and a loader image", () => {
    const values = { ...llmBase(), models: { files: (llmBase().models as { files: unknown }).files } };
    expect(errorsOf(values, ["anthropicApiKey"])).toEqual([
      "Pulumi.test.yaml: agent-fleet:models.backend: required because agent python, ml uses a local model",
      "Pulumi.test.yaml: agent-fleet:models.sidecar.image: required because agent python, ml uses a local model",
      "Pulumi.test.yaml: agent-fleet:models.loaderImage: required because agent python, ml uses a local model",
    ]);
  });

  it("an API agent needs its provider's key in secrets.apiKeys", () => {
    const values = {
      ...llmBase(),
      agents: { frontend: { model: { kind: "api", provider: "openai", name: "gpt-5" } } },
    };
    expect(errorsOf(values, ["anthropicApiKey"])).toEqual([
      'Pulumi.test.yaml: agent-fleet:agents.frontend.model.provider = "openai": needs an API key: add "openai" to secrets.apiKeys and run pulumi config set --secret agent-fleet:openaiApiKey <key>',
    ]);
  });

  it("secret values must be set with --secret, and must be present", () => {
    expect(errorsOf(llmBase(), [])).toEqual([
      "Pulumi.test.yaml: agent-fleet:anthropicApiKey = [secret]: is stored in plain text; secrets must be set with pulumi config set --secret agent-fleet:anthropicApiKey <value>",
    ]);
    const { anthropicApiKey: _k, ...missing } = llmBase();
    expect(errorsOf(missing)).toEqual([
      "Pulumi.test.yaml: agent-fleet:anthropicApiKey: is missing (referenced by secrets.apiKeys.0); set it with pulumi config set --secret agent-fleet:anthropicApiKey <value>",
    ]);
  });

  it("model backends must match the cluster and be shareable across nodes", () => {
    const models = (backend: unknown) => ({
      ...llmBase(),
      models: { ...(llmBase().models as object), backend },
    });
    expect(errorsOf(models({ kind: "filestore" }), ["anthropicApiKey"])).toEqual([
      'Pulumi.test.yaml: agent-fleet:models.backend.kind = "filestore": needs cluster.provider "gke" (this stack uses "existing")',
    ]);
    expect(
      errorsOf(models({ kind: "storage-class", storageClass: "local-path" }), ["anthropicApiKey"]),
    ).toEqual([
      'Pulumi.test.yaml: agent-fleet:models.backend.storageClass = "local-path": provisions ReadWriteOnce volumes that cannot be shared across nodes; use a class that supports ReadWriteMany (NFS, CephFS, Filestore, Longhorn RWX)',
    ]);
  });

  it("HPA mode needs minReplicas >= 1 and has no per-agent replicas", () => {
    expect(errorsOf(withAgents(base(), { data: { minReplicas: 0, replicas: 2 } }))).toEqual([
      "Pulumi.test.yaml: agent-fleet:agents.data.minReplicas = 0: must be >= 1 under autoscaling.mode hpa (scale to zero needs the HPAScaleToZero feature gate)",
      "Pulumi.test.yaml: agent-fleet:agents.data.replicas = 2: is only used with autoscaling.mode fixed; under hpa set minReplicas and maxReplicas",
    ]);
  });

  it("agents must land on a node pool the cluster defines", () => {
    const gke = {
      ...base(),
      cluster: {
        provider: "gke",
        project: "p",
        region: "europe-west4",
        masterAuthorizedNetworks: [{ name: "office", cidr: "203.0.113.0/24" }],
        nodePools: { agents: {}, ml: {} },
      },
      agents: { security: { nodePool: "gpu" } },
    };
    expect(errorsOf(gke)).toEqual([
      'Pulumi.test.yaml: agent-fleet:agents.security.nodePool = "gpu": no node pool "gpu" in cluster.nodePools (defined: agents, ml)',
    ]);
  });

  it("rejects unknown agents, unknown keys and bad values, all in one report", () => {
    const lines = errorsOf({
      ...base(),
      agents: { pythn: { maxReplicas: 3 }, python: { maxReplicas: "ten", replicaz: 1 } },
      queue: { mode: "in-cluster", persistance: "none" },
      extraKey: true,
    });
    expect(lines).toEqual([
      'Pulumi.test.yaml: agent-fleet:agents.python.maxReplicas = "ten": expected a whole number >= 1',
      "Pulumi.test.yaml: agent-fleet:agents.python.replicaz: unknown key; allowed keys: enabled, minReplicas, maxReplicas, replicas, backlogPerPod, cpuPercent, gpuPercent, resources, workload, nodePool, model, concurrency, taskTimeoutSeconds, env",
      "Pulumi.test.yaml: agent-fleet:agents.pythn: unknown agent; allowed agents: python, frontend, backend, devops, tester, researcher, coordinator, reviewer, security, data, ml, integration",
      "Pulumi.test.yaml: agent-fleet:queue.persistance: unknown key; allowed keys: mode, persistence, image, storage, resources",
      "Pulumi.test.yaml: agent-fleet:extraKey: unknown key; allowed keys: namespace, cluster, autoscaling, agentDefaults, agents, queue, models, mesh, observability, secrets, images, router, runtime and the secret keys the config refers to",
    ]);
  });

  it("schema errors do not hide the cross-field ones: one round reports both", () => {
    const lines = errorsOf({
      ...base(),
      agents: { python: { maxReplicas: "ten" }, tester: { minReplicas: 9 } },
      router: { resources: { requests: { cpu: "2", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } } },
      queue: { mode: "in-cluster", persistence: "sometimes" },
    });
    expect(lines).toEqual([
      'Pulumi.test.yaml: agent-fleet:agents.python.maxReplicas = "ten": expected a whole number >= 1',
      'Pulumi.test.yaml: agent-fleet:queue.persistence = "sometimes": Invalid option: expected one of "aof-always"|"aof-everysec"|"none"',
      "Pulumi.test.yaml: agent-fleet:agents.tester.minReplicas = 9: must be <= maxReplicas (8)",
      'Pulumi.test.yaml: agent-fleet:router.resources.limits.cpu = "1": must be >= requests.cpu (2)',
    ]);
  });

  it("a missing required key says required and what is allowed, naming the key", () => {
    const gke = { provider: "gke", masterAuthorizedNetworks: [{ name: "o", cidr: "203.0.113.0/24" }] };
    expect(
      errorsOf({ ...base(), cluster: { ...gke, region: "europe-west4", nodePools: { agents: {} } } }),
    ).toEqual(["Pulumi.test.yaml: agent-fleet:cluster.project: required: expected string"]);
    expect(errorsOf({ ...base(), cluster: { ...gke, project: "p", nodePools: { agents: {} } } })).toEqual([
      "Pulumi.test.yaml: agent-fleet:cluster.region: required: expected GKE region; allowed: us-central1, europe-west4 (from infra/prices.ts)",
    ]);
  });

  it("reports a wrong discriminator with the allowed values", () => {
    expect(errorsOf({ ...base(), cluster: { provider: "eks" } })).toEqual([
      'Pulumi.test.yaml: agent-fleet:cluster.provider = "eks": expected provider to be one of "existing", "gke", "hetzner-k3s"',
    ]);
  });

  it("the error message lists every issue under the file name", () => {
    try {
      resolve(withAgents(base(), { python: { maxReplicas: 1 }, tester: { minReplicas: 9 } }));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(StackConfigError);
      expect((err as Error).message).toBe(
        "Pulumi.test.yaml has 2 config errors:\n" +
          "  - Pulumi.test.yaml: agent-fleet:agents.python.maxReplicas = 1: must be >= minReplicas (2)\n" +
          "  - Pulumi.test.yaml: agent-fleet:agents.tester.minReplicas = 9: must be <= maxReplicas (8)",
      );
    }
  });
});
