import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import type * as PolicyModule from "@pulumi/policy";
import type { EnforcementLevel, Policy, PolicyPackArgs } from "@pulumi/policy";
import "../../policy/src/index";

// Constructing the real PolicyPack starts the analyzer's gRPC server: record what index.ts builds.
const built = vi.hoisted(() => [] as { name: string; args: PolicyPackArgs }[]);
vi.mock("@pulumi/policy", async (importOriginal) => ({
  ...(await importOriginal<typeof PolicyModule>()),
  PolicyPack: class {
    constructor(name: string, args: PolicyPackArgs) {
      built.push({ name, args });
    }
  },
}));

/** Every policy of the pack and its default enforcement level. */
const EXPECTED: Record<string, EnforcementLevel> = {
  "workload-run-as-non-root": "mandatory",
  "workload-read-only-root-filesystem": "mandatory",
  "workload-no-privilege-escalation": "mandatory",
  "workload-drop-all-capabilities": "mandatory",
  "workload-seccomp-runtime-default": "mandatory",
  "workload-no-host-namespaces": "mandatory",
  "workload-no-privileged-containers": "mandatory",
  "workload-no-service-account-token": "advisory",
  "workload-resource-requests-limits": "mandatory",
  "workload-image-pinned": "advisory",
  "workload-model-volumes-read-only": "mandatory",
  "configmap-no-plaintext-secrets": "mandatory",
  "namespace-pod-security-restricted": "mandatory",
  "namespace-default-deny-network-policy": "mandatory",
  "hpa-replica-bounds": "mandatory",
  "hpa-target-without-replicas": "mandatory",
};

/** The policies index.ts wired: all of EXPECTED, so the checks below never run over an empty list. */
function wiredPolicies(): Policy[] {
  const policies = built[0]?.args.policies ?? [];
  expect(policies).toHaveLength(Object.keys(EXPECTED).length);
  return policies;
}

// vi.mock is hoisted above the imports, so index.ts above ran against the recording PolicyPack.
describe("policy/src/index.ts", () => {
  it("builds exactly one pack, named agent-fleet, with a description", () => {
    expect(built.map((b) => b.name)).toEqual(["agent-fleet"]);
    expect(built[0]?.args.description).toMatch(/\w/);
  });

  it("wires every policy once, at its default level", () => {
    const policies = wiredPolicies();
    const names = policies.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(Object.fromEntries(policies.map((p) => [p.name, p.enforcementLevel]))).toEqual(EXPECTED);
  });

  it("gives every policy a description, a severity and a validation", () => {
    for (const policy of wiredPolicies()) {
      expect(policy.description, policy.name).toMatch(/^[A-Z].{20,}\.$/);
      expect(policy.severity, policy.name).toBeDefined();
      const validates = "validateStack" in policy || "validateResource" in policy;
      expect(validates, policy.name).toBe(true);
      // The engine rejects these two in a config schema.
      expect(policy.configSchema?.properties ?? {}, policy.name).not.toHaveProperty("enforcementLevel");
      expect(policy.configSchema?.required ?? [], policy.name).not.toContain("enforcementLevel");
    }
  });

  it("uses policy names the engine accepts", () => {
    for (const policy of wiredPolicies()) {
      expect(policy.name).toMatch(/^[a-z0-9-]+$/);
      expect(policy.name).not.toBe("all");
    }
  });
});

describe("policy/src/policies/", () => {
  const dir = join(__dirname, "../../policy/src/policies");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));

  function isPolicy(value: unknown): value is Policy {
    return typeof value === "object" && value !== null && "name" in value && "enforcementLevel" in value;
  }

  it.each(files)("%s holds one policy factory that takes its enforcement level", async (file) => {
    const module = (await import(join(dir, file))) as Record<string, unknown>;
    const policies = Object.values(module)
      .filter((v): v is (level: EnforcementLevel) => unknown => typeof v === "function" && v.length <= 1)
      .map((factory) => {
        try {
          return factory("disabled");
        } catch {
          return undefined;
        }
      })
      .filter(isPolicy);
    expect(policies).toHaveLength(1);
    expect(policies[0]?.enforcementLevel).toBe("disabled");
    expect(Object.keys(EXPECTED)).toContain(policies[0]?.name);
  });

  it("has one file per policy of the pack", () => {
    expect(files).toHaveLength(Object.keys(EXPECTED).length);
  });
});
