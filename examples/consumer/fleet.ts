/**
 * A code-review fleet of three agents, built only from what the agent-fleet package exports.
 * `reviewFleet` is separate from index.ts so a test can evaluate it under Pulumi mocks.
 */
import * as pulumi from "@pulumi/pulumi";
import { AgentFleet, agentSettings, ExistingCluster } from "agent-fleet";

export interface ReviewFleetOptions {
  kubeconfig?: string;
  context?: string;
  /** Digest of the published images this project deploys. */
  imageDigest: string;
}

export function reviewFleet(opts: ReviewFleetOptions) {
  const cluster = new ExistingCluster("review-cluster", {
    ...(opts.kubeconfig ? { kubeconfigPath: opts.kubeconfig } : {}),
    ...(opts.context ? { context: opts.context } : {}),
  });
  const image = (name: string) => `ghcr.io/agent-fleet/${name}:0.1.0@${opts.imageDigest}`;
  const fleet = new AgentFleet(
    "review",
    {
      namespace: "review-bots",
      agents: [
        agentSettings("reviewer", { minReplicas: 2, maxReplicas: 6, backlogPerPod: 4 }),
        agentSettings("security", { maxReplicas: 2, requests: { cpu: "500m" } }),
        agentSettings("tester", { maxReplicas: 4, concurrency: 2 }),
      ],
      scaling: {
        mode: "hpa",
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 30, percent: 100, periodSeconds: 30 },
          scaleDown: { stabilizationWindowSeconds: 600, pods: 1, periodSeconds: 300 },
        },
      },
      images: {
        agents: {
          reviewer: image("agent-reviewer"),
          security: image("agent-security"),
          tester: image("agent-tester"),
        },
        router: image("router"),
      },
      queue: {
        mode: "in-cluster",
        persistence: "aof-always",
        image: "redis:7.4-alpine",
        storage: { size: "5Gi" },
        resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
      },
      // The consumer's own key, read from its own stack config as a secret.
      apiKeys: {
        values: { anthropic: new pulumi.Config().getSecret("anthropicApiKey") ?? pulumi.secret("unset") },
      },
      router: {
        replicas: 1,
        auth: "required",
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
      },
      // The consumer's Prometheus runs in `observability`; the fleet's NetworkPolicies let it scrape.
      prometheusNamespace: "observability",
    },
    { provider: cluster.provider },
  );
  return { cluster, fleet };
}
