import { describe, expect, it } from "vitest";
import { AGENT_CATALOG } from "../../infra/catalog";
import { validateAgentFleetArgs, type AgentFleetArgs } from "../../infra/components/agent-fleet";
import { validateAgentPoolArgs, type AgentPoolArgs } from "../../infra/components/agent-pool";
import { hpaMetrics, type AgentSettings } from "../../infra/components/agent-pool-spec";
import { validateExistingClusterArgs } from "../../infra/components/existing-cluster";
import {
  claimSize,
  LOADER_SCRIPT,
  loaderManifest,
  validateModelStoreArgs,
} from "../../infra/components/model-store";
import { redisArgs, validateTaskQueueArgs } from "../../infra/components/task-queue";
import { validateTaskRouterArgs } from "../../infra/components/task-router";

const python: AgentSettings = {
  ...AGENT_CATALOG.python,
  name: "python",
  enabled: true,
  replicas: 1,
  cpuPercent: 70,
  env: {},
  taskTypes: ["code-generation"],
};

function poolArgs(over: Partial<AgentPoolArgs> = {}): AgentPoolArgs {
  return {
    namespace: "ns",
    agent: python,
    image: "img@sha256:" + "a".repeat(64),
    scaling: {
      mode: "hpa",
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 60, percent: 50, periodSeconds: 60 },
        scaleDown: { stabilizationWindowSeconds: 300, pods: 1, periodSeconds: 120 },
      },
    },
    queue: { url: "redis://redis:6379/0" },
    executor: { kind: "echo" },
    ...over,
  };
}

describe("Args validation", () => {
  it("AgentPool", () => {
    expect(() => validateAgentPoolArgs(poolArgs())).not.toThrow();
    expect(() => validateAgentPoolArgs(poolArgs({ agent: { ...python, minReplicas: 0 } }))).toThrow(
      'AgentPool "python": agent.minReplicas: must be >= 1 under an HPA (got 0)',
    );
    expect(() => validateAgentPoolArgs(poolArgs({ agent: { ...python, maxReplicas: 1 } }))).toThrow(
      'AgentPool "python": agent.maxReplicas: must be >= agent.minReplicas (2), got 1',
    );
    expect(() => validateAgentPoolArgs(poolArgs({ terminationGracePeriodSeconds: 5, image: "" }))).toThrow(
      'AgentPool "python": terminationGracePeriodSeconds: must be > 10 to leave the runtime time to drain (got 5); image: must not be empty',
    );
    expect(() =>
      validateAgentPoolArgs(poolArgs({ agent: { ...python, name: "cobol" as "python" } })),
    ).toThrow('AgentPool "cobol": agent.name: "cobol" is not an agent type');
  });

  it("AgentFleet", () => {
    const args: AgentFleetArgs = {
      namespace: "Bad_NS",
      agents: [python, python],
      scaling: { mode: "fixed" },
      images: { agents: {}, router: "r" },
      queue: { mode: "managed", url: "redis://r:6379", password: "p" },
    };
    expect(() => validateAgentFleetArgs(args)).toThrow(
      'AgentFleet: namespace: "Bad_NS" is not a DNS-1123 label; images.agents.python: missing image reference; models: required because agent python uses the local model qwen3-8b-q4_k_m.gguf; agents: "python" is listed twice; images.agents.python: missing image reference; models: required because agent python uses the local model qwen3-8b-q4_k_m.gguf',
    );
  });

  it("TaskQueue, TaskRouter, ModelStore, ExistingCluster", () => {
    expect(() =>
      validateTaskQueueArgs({
        namespace: "n",
        mode: "managed",
        url: "redis://user:pw@host:6379",
        password: "x",
      }),
    ).toThrow(
      'TaskQueueArgs.url: expected redis://host:port or rediss://host:port without credentials (got "redis://user:pw@host:6379")',
    );
    expect(() =>
      validateTaskRouterArgs({ namespace: "n", image: "i", queue: { url: "u" }, replicas: 0 }),
    ).toThrow("TaskRouterArgs.replicas: must be a whole number >= 1 (got 0)");
    const store = { namespace: "n", size: "10Gi", loaderImage: "l", files: [] };
    expect(() =>
      validateModelStoreArgs({
        ...store,
        backend: { kind: "storage-class", storageClass: "local-path", accessMode: "ReadOnlyMany" },
      }),
    ).toThrow(
      'ModelStoreArgs.backend.storageClass: "local-path" provisions ReadWriteOnce volumes that cannot be shared across nodes; use a class that supports ReadOnlyMany',
    );
    expect(() =>
      validateModelStoreArgs({
        ...store,
        backend: { kind: "hcloud-nfs" },
        files: [{ name: "a/b", url: "https://x", sha256: "a".repeat(64) }],
      }),
    ).toThrow('ModelStoreArgs.files[0].name: expected a plain file name (got "a/b")');
    expect(() => validateExistingClusterArgs({ context: " " })).toThrow(
      "ExistingClusterArgs.context: must not be empty (omit it to use the current context)",
    );
  });
});

describe("pure helpers", () => {
  it("HPA metrics: backlog always, CPU when set, GPU only on GPU pools", () => {
    expect(hpaMetrics({ ...python, cpuPercent: undefined }).map((m) => m.type)).toEqual(["External"]);
    expect(hpaMetrics(python).map((m) => m.type)).toEqual(["External", "Resource"]);
    const ml = { ...python, name: "ml" as const, gpuPercent: 60 };
    expect(hpaMetrics(ml, false).map((m) => m.type)).toEqual(["External", "Resource"]);
    expect(hpaMetrics(ml, true)[2]).toEqual({
      type: "Pods",
      pods: {
        metric: { name: "DCGM_FI_DEV_GPU_UTIL" },
        target: { type: "AverageValue", averageValue: "60" },
      },
    });
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

  it("Filestore claims are raised to the tier's minimum", () => {
    expect(claimSize({ backend: { kind: "filestore", tier: "BASIC_HDD" }, size: "50Gi" })).toBe("1024Gi");
    expect(claimSize({ backend: { kind: "filestore", tier: "BASIC_HDD" }, size: "2Ti" })).toBe("2Ti");
    expect(claimSize({ backend: { kind: "hcloud-nfs" }, size: "50Gi" })).toBe("50Gi");
  });

  it("loader manifest lines are name, sha256, url; the script verifies before it renames", () => {
    expect(loaderManifest([{ name: "m.gguf", sha256: "a".repeat(64), url: "https://x/m" }])).toBe(
      `m.gguf ${"a".repeat(64)} https://x/m\n`,
    );
    expect(LOADER_SCRIPT.indexOf("sha256sum -c")).toBeLessThan(
      LOADER_SCRIPT.indexOf('mv -f ".$name.part" "$name"'),
    );
  });
});
