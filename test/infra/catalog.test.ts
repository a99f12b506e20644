/** The agent catalog (the capacity plan's defaults) and agentSettings(), which every agent resolves through. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AGENT_CATALOG, AGENT_TYPES, agentSettings, TASK_ROUTES } from "../../infra/catalog";

const ROOT = join(__dirname, "..", "..");

describe("agent catalog", () => {
  it("has the 12 agents of the capacity plan with its defaults", () => {
    expect(Object.keys(AGENT_CATALOG)).toEqual([...AGENT_TYPES]);
    expect(AGENT_CATALOG.python).toMatchObject({
      minReplicas: 2,
      maxReplicas: 10,
      backlogPerPod: 5,
      cpuPercent: 70,
      requests: { cpu: "4", memory: "8Gi" },
      limits: { cpu: "8", memory: "16Gi" },
      workload: "StatefulSet",
      model: { kind: "local" },
    });
    expect(AGENT_CATALOG.ml).toMatchObject({
      minReplicas: 1,
      maxReplicas: 5,
      backlogPerPod: 2,
      gpuPercent: 60,
      requests: { cpu: "8", memory: "32Gi" },
      limits: { cpu: "16", memory: "64Gi" },
      workload: "StatefulSet",
      nodePool: "ml",
    });
    expect(AGENT_CATALOG.coordinator).toMatchObject({ minReplicas: 1, maxReplicas: 2 });
    expect(AGENT_CATALOG.tester).toMatchObject({ minReplicas: 1, maxReplicas: 8, backlogPerPod: 5 });
    for (const name of [
      "frontend",
      "backend",
      "devops",
      "tester",
      "researcher",
      "reviewer",
      "security",
      "data",
    ] as const) {
      expect(AGENT_CATALOG[name]).toMatchObject({
        requests: { cpu: "1", memory: "2Gi" },
        limits: { cpu: "2", memory: "4Gi" },
        workload: "Deployment",
        nodePool: "agents",
        model: { kind: "api" },
      });
    }
  });

  it("routes every agent from at least one task type and no task type twice", () => {
    const reached = new Set(Object.values(TASK_ROUTES));
    expect([...reached].sort()).toEqual([...AGENT_TYPES].sort());
    // Object keys are unique by construction; the routing table is a plain object literal, so a
    // duplicated key would be a compile-time error — check the source text stays free of them too.
    const source = readFileSync(join(ROOT, "agent-runtime/src/catalog.ts"), "utf8");
    const keys = [...source.matchAll(/^\s+"?([\w-]+)"?: "(\w+)",$/gm)].map((m) => m[1]);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(Object.keys(TASK_ROUTES).length);
  });
});

describe("agentSettings", () => {
  it("is the catalog entry with its task types, enabled, at minReplicas, with no extra env", () => {
    expect(agentSettings("tester")).toEqual({
      ...AGENT_CATALOG.tester,
      name: "tester",
      enabled: true,
      replicas: 1,
      env: {},
      taskTypes: ["test-generation", "test-run"],
    });
  });

  it("applies overrides, merges resources key by key, and null turns a scale trigger off", () => {
    const python = agentSettings("python", {
      minReplicas: 3,
      requests: { cpu: "2" },
      limits: { memory: "12Gi" },
      cpuPercent: null,
      env: { LLM_TEMPERATURE: "0.1" },
    });
    expect(python).toMatchObject({
      minReplicas: 3,
      maxReplicas: 10,
      replicas: 3,
      requests: { cpu: "2", memory: "8Gi" },
      limits: { cpu: "8", memory: "12Gi" },
      env: { LLM_TEMPERATURE: "0.1" },
    });
    expect(python).not.toHaveProperty("cpuPercent");
    expect(agentSettings("ml", { gpuPercent: null })).not.toHaveProperty("gpuPercent");
    expect(agentSettings("ml", { gpuPercent: 80 }).gpuPercent).toBe(80);
    expect(agentSettings("data", { replicas: 0, enabled: false })).toMatchObject({
      replicas: 0,
      enabled: false,
    });
  });
});
