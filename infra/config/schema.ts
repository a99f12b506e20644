/**
 * The zod schema of the `agent-fleet:*` stack config keys, as written in Pulumi.<stack>.yaml.
 * Per-agent values are overrides of the catalog; `resolve.ts` merges the catalog in and applies the
 * cross-field rules. Every object is strict: an unknown key is an error, never silently ignored.
 */
import { z } from "zod";
import { API_PROVIDERS, DEFAULT_LOG_LEVEL, SAFE_RETRY_CONDITIONS } from "../../agent-runtime/src/contract";
import { AGENT_TYPES, IMAGE_NAMES } from "../catalog";
import { clusterSchema } from "./cluster-schema";
import {
  dnsLabel,
  fullResources,
  imageRef,
  pinnedImage,
  quantity,
  resourcesSchema,
  secretKeyName,
  strict,
  wholeNumber,
} from "./fields";

export { clusterSchema, resourcesSchema, strict };

// ---------------------------------------------------------------- autoscaling
export const autoscalingSchema = z.discriminatedUnion(
  "mode",
  [
    strict({ mode: z.literal("fixed"), replicas: wholeNumber(0).default(1) }),
    strict({
      mode: z.literal("hpa"),
      behavior: strict({
        scaleUp: strict({
          stabilizationWindowSeconds: wholeNumber(0, 3600).default(60),
          percent: wholeNumber(1).default(50),
          periodSeconds: wholeNumber(1, 1800).default(60),
        }).prefault({}),
        scaleDown: strict({
          stabilizationWindowSeconds: wholeNumber(0, 3600).default(300),
          pods: wholeNumber(1).default(1),
          periodSeconds: wholeNumber(1, 1800).default(120),
        }).prefault({}),
      }).prefault({}),
    }),
  ],
  { error: 'expected mode to be "fixed" or "hpa"' },
);

// ---------------------------------------------------------------- agents
export const modelSchema = z.discriminatedUnion(
  "kind",
  [
    strict({
      kind: z.literal("api"),
      provider: z.enum(API_PROVIDERS),
      name: z.string().min(1),
      /** An OpenAI-compatible endpoint of your own; such an agent needs no API key. */
      baseUrl: z.url().optional(),
    }),
    strict({ kind: z.literal("local"), file: z.string().min(1) }),
  ],
  { error: 'expected kind to be "api" or "local"' },
);

export const agentOverrideSchema = strict({
  enabled: z.boolean(),
  minReplicas: wholeNumber(0),
  maxReplicas: wholeNumber(1),
  /** Replicas in `autoscaling.mode: fixed`; default autoscaling.replicas. */
  replicas: wholeNumber(0),
  backlogPerPod: z.number().positive("must be > 0"),
  cpuPercent: wholeNumber(1, 100).nullable(),
  gpuPercent: wholeNumber(1, 100).nullable(),
  resources: resourcesSchema,
  workload: z.enum(["Deployment", "StatefulSet"]),
  nodePool: dnsLabel,
  model: modelSchema,
  concurrency: wholeNumber(1, 256),
  taskTimeoutSeconds: wholeNumber(5, 86_400),
  env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "expected an env var name"), z.string()),
}).partial();

const agentKey = z.enum(AGENT_TYPES, { error: `unknown agent; allowed agents: ${AGENT_TYPES.join(", ")}` });
export const agentsSchema = z.partialRecord(agentKey, agentOverrideSchema, {
  error: (issue) =>
    String(issue.code) === "unrecognized_keys" // zod types list only key codes here
      ? `unknown agent; allowed agents: ${AGENT_TYPES.join(", ")}`
      : undefined,
});

// ---------------------------------------------------------------- queue
export const queueSchema = z.discriminatedUnion(
  "mode",
  [
    strict({
      mode: z.literal("in-cluster"),
      persistence: z.enum(["aof-always", "aof-everysec", "none"]).default("aof-everysec"),
      // The redis:7.4-alpine multi-arch index, pinned (seen pinned so in many public repositories).
      image: imageRef.default(
        "docker.io/library/redis:7.4-alpine@sha256:ff02b58f971e7d7d156a1267e283fcbbeee91773b6aa36c49dac28ecfe28eadf",
      ),
      storage: strict({
        size: quantity("memory").default("10Gi"),
        storageClass: z.string().optional(),
      }).prefault({}),
      resources: fullResources.default({
        requests: { cpu: "250m", memory: "512Mi" },
        limits: { cpu: "1", memory: "1Gi" },
      }),
    }),
    strict({
      mode: z.literal("managed"),
      url: z
        .string()
        .regex(/^rediss?:\/\/[^\s]+$/, "expected a redis:// or rediss:// URL without the password"),
      passwordKey: secretKeyName.default("redisPassword"),
    }),
  ],
  { error: 'expected mode to be "in-cluster" or "managed"' },
);

// ---------------------------------------------------------------- models
const modelBackend = z.discriminatedUnion(
  "kind",
  [
    strict({
      kind: z.literal("storage-class"),
      storageClass: z.string().min(1),
      accessMode: z.enum(["ReadOnlyMany", "ReadWriteMany"]).default("ReadWriteMany"),
    }),
    strict({
      kind: z.literal("filestore"),
      tier: z.enum(["BASIC_HDD", "BASIC_SSD", "ZONAL"]).default("BASIC_HDD"),
    }),
    strict({ kind: z.literal("hyperdisk-ml"), throughputMibps: wholeNumber(400).default(2400) }),
    strict({ kind: z.literal("gcs-fuse"), bucket: z.string().min(3) }),
    strict({ kind: z.literal("hcloud-nfs") }),
  ],
  {
    error:
      'expected kind to be one of "storage-class", "filestore", "hyperdisk-ml", "gcs-fuse", "hcloud-nfs"',
  },
);

export const modelsSchema = strict({
  backend: modelBackend.optional(),
  size: quantity("memory").default("50Gi"),
  files: z
    .array(
      strict({
        name: z.string().regex(/^[\w.-]+$/, "expected a plain file name"),
        url: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
        sha256: z
          .string({ error: "expected 64 lowercase hex characters as a quoted string" })
          .regex(/^[a-f0-9]{64}$/, "expected 64 lowercase hex characters"),
      }),
    )
    .default([]),
  loaderImage: pinnedImage.optional(),
  sidecar: strict({
    image: pinnedImage.optional(),
    port: wholeNumber(1024, 65535).default(8081),
    contextSize: wholeNumber(512).default(8192),
    resources: fullResources.default({
      requests: { cpu: "1", memory: "6Gi" },
      limits: { cpu: "4", memory: "8Gi" },
    }),
  }).prefault({}),
});

// ---------------------------------------------------------------- mesh
export const meshSchema = strict({
  istio: strict({
    enabled: z.boolean().default(true),
    /** Install istio-base and istiod with Helm; false = the cluster already runs Istio. */
    install: z.boolean().default(false),
    revision: z.string().optional(),
    /**
     * Sync-path retries: only where nothing ran (SAFE_RETRY_CONDITIONS). Timeouts are not set here:
     * each agent's come from its taskTimeoutSeconds.
     */
    retries: strict({
      attempts: wholeNumber(0, 10).default(2),
      retryOn: z
        .string()
        .default(SAFE_RETRY_CONDITIONS.join(","))
        .superRefine((value, ctx) => {
          const safe: readonly string[] = SAFE_RETRY_CONDITIONS;
          const unsafe = value
            .split(",")
            .map((c) => c.trim())
            .filter((c) => !safe.includes(c));
          if (unsafe.length > 0) {
            ctx.addIssue({
              code: "custom",
              message:
                `${unsafe.map((c) => `"${c}"`).join(", ")} may retry a task after it started (LLM work is billed ` +
                `and not idempotent); allowed: ${SAFE_RETRY_CONDITIONS.join(", ")}`,
            });
          }
        }),
    }).prefault({}),
    /**
     * The Istio CNI node agent's host folders (it installs the CNI plugin there). Default: the
     * cluster's own (GKE: /home/kubernetes/bin, K3s: its data and agent folders, existing
     * clusters: /opt/cni/bin and /etc/cni/net.d).
     */
    cni: strict({
      binDir: z.string().startsWith("/").optional(),
      confDir: z.string().startsWith("/").optional(),
    }).prefault({}),
    /** The router from outside the cluster: an Istio ingress gateway with TLS for this host. */
    ingress: strict({
      host: z
        .string()
        .regex(
          /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$/,
          "expected a DNS host name such as fleet.example.com",
        ),
      /** The certificate: a TLS Secret in the gateway's namespace, or cert-manager issuing one. */
      tls: z.union(
        [
          strict({ secretName: dnsLabel }),
          strict({
            issuer: strict({
              name: z.string().min(1),
              kind: z.enum(["ClusterIssuer", "Issuer"]).default("ClusterIssuer"),
            }),
          }),
        ],
        { error: "expected { secretName: <TLS Secret> } or { issuer: { name, kind } } (cert-manager)" },
      ),
    }).optional(),
    /** Namespaces whose workloads may call the router inside the mesh (besides the ingress gateway). */
    routerClientNamespaces: z.array(dnsLabel).default([]),
    circuitBreaker: strict({
      consecutive5xxErrors: wholeNumber(1).default(5),
      interval: z
        .string()
        .regex(/^\d+(ms|s|m)$/, 'expected a duration such as "10s"')
        .default("10s"),
      baseEjectionTime: z
        .string()
        .regex(/^\d+(ms|s|m)$/, 'expected a duration such as "30s"')
        .default("30s"),
      maxEjectionPercent: wholeNumber(1, 100).default(50),
      maxPendingRequests: wholeNumber(1).default(64),
      maxRequestsPerConnection: wholeNumber(1).default(16),
    }).prefault({}),
    canary: strict({
      agent: z.enum(AGENT_TYPES, {
        error: (issue) =>
          `${issue.input === undefined ? "required" : "unknown agent"}; allowed agents: ${AGENT_TYPES.join(", ")}`,
      }),
      weight: z
        .number({ error: "expected a number from 0 to 100" })
        .min(0, "must be from 0 to 100")
        .max(100, "must be from 0 to 100"),
      /** Pinned by digest; omit it with `images.source: build` to build the canary with the others. */
      image: imageRef.optional(),
    }).optional(),
  }).prefault({}),
});

/**
 * The mesh policies stack config defaults to, for library users who build AgentFleetArgs.istio by
 * hand: the same values, written once (above).
 */
const MESH_DEFAULTS = meshSchema.parse({}).istio;
export const DEFAULT_RETRIES = MESH_DEFAULTS.retries;
export const DEFAULT_CIRCUIT_BREAKER = MESH_DEFAULTS.circuitBreaker;

// ---------------------------------------------------------------- observability, secrets, images, router
/** A Prometheus duration as alert rules take it: "90s", "5m", "1h". */
const promDuration = z.string().regex(/^\d+(s|m|h)$/, 'expected a duration such as "30s", "5m" or "1h"');
const ratio = z.number().gt(0, "must be > 0").max(1, "must be <= 1");

/**
 * Alert thresholds (infra/observability/alerts.ts turns them into rules). The backlog threshold of
 * each agent is its own scaling matrix (backlogPerPod x maxReplicas, or x replicas in fixed mode:
 * the agent is at its ceiling and the queue still grows); the rest are fleet-wide.
 */
export const alertsSchema = strict({
  enabled: z.boolean().default(true),
  /** docs/operations.md as published; every alert's runbook_url is this plus the alert's anchor. */
  runbookUrl: z.url().default("https://github.com/agent-fleet/agent-fleet/blob/main/docs/operations.md"),
  backlogFor: promDuration.default("10m"),
  /** The plan's SLAs: the oldest ready task of a band may wait this long (P3 has none). */
  sla: strict({
    P0: promDuration.default("1m"),
    P1: promDuration.default("5m"),
    P2: promDuration.default("15m"),
  }).prefault({}),
  errorRatio: ratio.default(0.05),
  errorRatioFor: promDuration.default("10m"),
  hpaAtMaxFor: promDuration.default("15m"),
  restarts: strict({ count: wholeNumber(1).default(3), window: promDuration.default("15m") }).prefault({}),
  redisMemoryRatio: ratio.default(0.9),
  router5xxRatio: ratio.default(0.05),
}).prefault({});

export const observabilitySchema = strict({
  prometheus: strict({
    install: z.boolean().default(false),
    /**
     * The chart `install` installs: prometheus-community/prometheus (alerts as its rule files), or
     * kube-prometheus-stack (the Prometheus Operator: PrometheusRule, ServiceMonitor, PodMonitor).
     */
    chart: z.enum(["prometheus", "kube-prometheus-stack"]).default("prometheus"),
    /**
     * The cluster runs the Prometheus Operator (its CRDs exist): alerts and scrape targets become
     * PrometheusRule / ServiceMonitor / PodMonitor objects. Default: chart is kube-prometheus-stack.
     */
    operator: z.boolean().optional(),
    namespace: dnsLabel.default("monitoring"),
    scrapeInterval: z
      .string()
      .regex(/^\d+(s|m)$/, 'expected a duration such as "15s"')
      .default("15s"),
  }).prefault({}),
  /** Install prometheus-adapter to serve agent_queue_backlog as an External metric. */
  adapter: strict({ install: z.boolean().default(false) }).prefault({}),
  alerts: alertsSchema,
  /** The three dashboards, as ConfigMaps Grafana's dashboard sidecar loads. */
  dashboards: strict({
    enabled: z.boolean().default(true),
    /** Install Grafana (grafana/grafana chart) with its dashboard sidecar and Prometheus as data source. */
    grafana: strict({ install: z.boolean().default(false) }).prefault({}),
  }).prefault({}),
  /** OpenTelemetry traces (router -> queue -> worker -> model call), exported over OTLP/HTTP. */
  tracing: strict({
    enabled: z.boolean().default(false),
    /** OTLP/HTTP endpoint (the collector's :4318). Default: the collector `collector.install` makes. */
    endpoint: z.url().optional(),
    /** Fraction of new traces sampled (parent-based: a sampled caller's trace is always kept). */
    sampleRatio: z.number().min(0).max(1).default(1),
    /** Install an OpenTelemetry Collector (open-telemetry/opentelemetry-collector chart). */
    collector: strict({
      install: z.boolean().default(false),
      /** Your tracing backend's OTLP/HTTP address the collector forwards to; unset: it logs spans. */
      exportTo: z.url().optional(),
    }).prefault({}),
  }).prefault({}),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default(DEFAULT_LOG_LEVEL),
});

const apiKeyProviders = z.array(z.enum(API_PROVIDERS)).default([]);
export const secretsSchema = z.discriminatedUnion(
  "backend",
  [
    strict({ backend: z.literal("pulumi"), apiKeys: apiKeyProviders }),
    strict({
      backend: z.literal("aws-secrets-manager"),
      region: z.string().min(1),
      secretPrefix: z.string().default("agent-fleet/"),
      apiKeys: apiKeyProviders,
      refreshInterval: z
        .string()
        .regex(/^\d+(s|m|h)$/, 'expected a duration such as "1h"')
        .default("1h"),
      installOperator: z.boolean().default(true),
    }),
  ],
  { error: 'expected backend to be "pulumi" or "aws-secrets-manager"' },
);

const platform = z.enum(["linux/amd64", "linux/arm64"]);
const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, "expected sha256:<64 hex>");
/**
 * `true` (staging, prod): every image the stack runs must be pinned by digest — the fleet's own
 * (built, or `digests` of prebuilt ones), the canary, Redis, the model loader and sidecar — so a
 * rollout, a rollback and a preview always mean the same bytes.
 */
const requireDigests = z.boolean().default(false);
export const imagesSchema = z.discriminatedUnion(
  "source",
  [
    strict({
      source: z.literal("prebuilt"),
      requireDigests,
      repository: z.string().min(1),
      tag: z.string().min(1),
      digests: z.partialRecord(z.enum(IMAGE_NAMES), digest).default({}),
      pull: strict({
        server: z.string().min(1),
        username: z.string().min(1),
        passwordKey: secretKeyName.default("registryPassword"),
      }).optional(),
    }),
    strict({
      source: z.literal("build"),
      requireDigests,
      registry: z.discriminatedUnion(
        "kind",
        [
          strict({ kind: z.literal("artifact-registry"), location: z.string(), repositoryId: dnsLabel }),
          strict({
            kind: z.literal("ecr"),
            region: z.string(),
            repositoryPrefix: z.string().default("agent-fleet"),
          }),
          strict({
            kind: z.literal("external"),
            server: z.string(),
            repository: z.string(),
            username: z.string(),
            passwordKey: secretKeyName.default("registryPassword"),
          }),
        ],
        { error: 'expected kind to be one of "artifact-registry", "ecr", "external"' },
      ),
      platforms: z.array(platform).min(1).default(["linux/amd64"]),
      tag: z.string().default("latest"),
    }),
  ],
  { error: 'expected source to be "prebuilt" or "build"' },
);

export const routerSchema = strict({
  replicas: wholeNumber(1).default(2),
  auth: z.enum(["required", "disabled"]).default("required"),
  /** Secret config key with comma-separated bearer tokens; unset = one token generated by Pulumi. */
  tokensKey: secretKeyName.optional(),
  resources: fullResources.default({
    requests: { cpu: "250m", memory: "256Mi" },
    limits: { cpu: "1", memory: "512Mi" },
  }),
});

export const runtimeSchema = strict({
  /** `echo` makes every agent answer with the echo executor: no API keys, no model files (dev clusters). */
  executor: z.enum(["llm", "echo"]).default("llm"),
});

/** Every section key of the `agent-fleet` namespace with its schema. */
export const SECTION_SCHEMAS = {
  namespace: dnsLabel.default("agent-fleet"),
  cluster: clusterSchema,
  autoscaling: autoscalingSchema,
  /** Overrides applied to every agent before its own `agents.<name>` overrides. */
  agentDefaults: agentOverrideSchema
    .omit({ enabled: true, model: true, workload: true, nodePool: true })
    .default({}),
  agents: agentsSchema.default({}),
  queue: queueSchema.prefault({ mode: "in-cluster" }),
  models: modelsSchema.prefault({}),
  mesh: meshSchema.prefault({}),
  observability: observabilitySchema.prefault({}),
  secrets: secretsSchema.prefault({ backend: "pulumi" }),
  images: imagesSchema,
  router: routerSchema.prefault({}),
  runtime: runtimeSchema.prefault({}),
} as const;

export const stackConfigSchema = z.object(SECTION_SCHEMAS);
export type StackConfigInput = z.input<typeof stackConfigSchema>;
export type ParsedStackConfig = z.output<typeof stackConfigSchema>;
