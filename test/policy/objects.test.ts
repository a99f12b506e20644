import { describe, expect, it } from "vitest";
import { configMapNoPlaintextSecrets } from "../../policy/src/policies/configmap-no-plaintext-secrets";
import { hpaReplicaBounds } from "../../policy/src/policies/hpa-replica-bounds";
import { namespacePodSecurity } from "../../policy/src/policies/namespace-pod-security";
import { TYPES, configMap, fixture, hpa, namespace } from "./support/fixtures";
import { UNKNOWN, runResourcePolicy } from "./support/harness";

describe("namespace-pod-security-restricted", () => {
  const WHY =
    "The API server's Pod Security admission is the last check on pods that reach the cluster outside this stack (kubectl, Helm, operators); without it they may run privileged or as root. Add the label pod-security.kubernetes.io/enforce: restricted.";

  it("accepts the fleet's namespace", async () => {
    expect(
      await runResourcePolicy(
        namespacePodSecurity(),
        fixture(TYPES.Namespace, "fleet-namespace", namespace()),
      ),
    ).toEqual({
      violations: [],
    });
  });

  it("rejects a namespace without the enforce label", async () => {
    const ns = namespace();
    delete ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"];
    expect(
      (await runResourcePolicy(namespacePodSecurity(), fixture(TYPES.Namespace, "fleet-namespace", ns)))
        .violations,
    ).toEqual([`Namespace agent-fleet: has no label pod-security.kubernetes.io/enforce: restricted. ${WHY}`]);
  });

  it("rejects a weaker level", async () => {
    const ns = namespace();
    if (ns.metadata?.labels) ns.metadata.labels["pod-security.kubernetes.io/enforce"] = "baseline";
    expect(
      (await runResourcePolicy(namespacePodSecurity(), fixture(TYPES.Namespace, "fleet-namespace", ns)))
        .violations,
    ).toEqual([
      `Namespace agent-fleet: has the label pod-security.kubernetes.io/enforce: baseline, not pod-security.kubernetes.io/enforce: restricted. ${WHY}`,
    ]);
  });

  it("exempts the NFS server's privileged storage namespace by default", async () => {
    const ns = {
      metadata: {
        name: "agent-fleet-storage",
        labels: { "pod-security.kubernetes.io/enforce": "privileged" },
      },
    };
    expect(
      await runResourcePolicy(namespacePodSecurity(), fixture(TYPES.Namespace, "nfs-namespace", ns)),
    ).toEqual({
      violations: [],
      notApplicable: 'Namespace agent-fleet-storage is exempt (policy config exempt: "Namespace *-storage")',
    });
  });

  it.each(["istio-system", "monitoring"])(
    "exempts the %s namespace (third-party charts) by default",
    async (name) => {
      const ns = { metadata: { name, labels: { "app.kubernetes.io/part-of": "agent-fleet" } } };
      const outcome = await runResourcePolicy(namespacePodSecurity(), fixture(TYPES.Namespace, name, ns));
      expect(outcome).toEqual({
        violations: [],
        notApplicable: `Namespace ${name} is exempt (policy config exempt: "Namespace ${name}")`,
      });
    },
  );

  it("is not applicable to other kinds", async () => {
    const outcome = await runResourcePolicy(
      namespacePodSecurity(),
      fixture(TYPES.ConfigMap, "cm", configMap()),
    );
    expect(outcome.notApplicable).toBe(
      "Policy only applies to resources of type 'kubernetes:core/v1:Namespace'",
    );
  });
});

describe("hpa-replica-bounds", () => {
  const REF = "HorizontalPodAutoscaler agent-fleet/agent-backend";

  it("accepts the fleet's HPA, and an unset minReplicas (the API server defaults it to 1)", async () => {
    expect(await runResourcePolicy(hpaReplicaBounds(), fixture(TYPES.HpaV2, "backend-hpa", hpa()))).toEqual({
      violations: [],
    });
    const h = hpa();
    delete h.spec?.minReplicas;
    expect(
      (await runResourcePolicy(hpaReplicaBounds(), fixture(TYPES.HpaV2, "backend-hpa", h))).violations,
    ).toEqual([]);
  });

  it("rejects minReplicas 0", async () => {
    const h = hpa();
    if (h.spec) h.spec.minReplicas = 0;
    expect(
      (await runResourcePolicy(hpaReplicaBounds(), fixture(TYPES.HpaV2, "backend-hpa", h))).violations,
    ).toEqual([
      `${REF}: minReplicas is 0. Below 1 the agent scales to zero and queued tasks wait with no worker (the API server also rejects it unless the HPAScaleToZero feature gate is on). Set minReplicas to at least 1.`,
    ]);
  });

  it("rejects minReplicas above maxReplicas", async () => {
    const h = hpa();
    if (h.spec) h.spec.minReplicas = 6;
    expect(
      (await runResourcePolicy(hpaReplicaBounds(), fixture(TYPES.HpaV2, "backend-hpa", h))).violations,
    ).toEqual([
      `${REF}: minReplicas (6) is greater than maxReplicas (5). The API server rejects the HPA, so the agent would not autoscale at all. Set minReplicas <= maxReplicas in the stack config.`,
    ]);
  });

  it("checks autoscaling/v1 HPAs too", async () => {
    const v1 = {
      metadata: { name: "agent-backend", namespace: "agent-fleet" },
      spec: { scaleTargetRef: { kind: "Deployment", name: "agent-backend" }, minReplicas: 3, maxReplicas: 2 },
    };
    expect(
      (await runResourcePolicy(hpaReplicaBounds(), fixture(TYPES.HpaV1, "backend-hpa", v1))).violations,
    ).toEqual([
      `${REF}: minReplicas (3) is greater than maxReplicas (2). The API server rejects the HPA, so the agent would not autoscale at all. Set minReplicas <= maxReplicas in the stack config.`,
    ]);
  });
});

describe("configmap-no-plaintext-secrets", () => {
  const REF = "ConfigMap agent-fleet/agent-backend";
  const WHY =
    "ConfigMaps are not encrypted at rest, any role that can read ConfigMaps in the namespace can read them, and their values are printed in `pulumi preview` diffs and in the state file.";
  const keyViolation = (key: string) =>
    `${REF}, key "${key}": the key looks like a credential. ${WHY} Put the value in a Secret and reference it with secretKeyRef (or, if it is not a credential, add the key to this policy's allowKeys config).`;

  it("accepts the agent's settings (a token budget and a token file path are not credentials)", async () => {
    expect(
      await runResourcePolicy(
        configMapNoPlaintextSecrets(),
        fixture(TYPES.ConfigMap, "backend-config", configMap()),
      ),
    ).toEqual({
      violations: [],
    });
  });

  it.each(["OPENAI_API_KEY", "anthropic-apikey", "GITHUB_TOKEN", "REDIS_PASSWORD", "client_secret"])(
    "rejects the key %s",
    async (key) => {
      const cm = configMap();
      cm.data = { ...cm.data, [key]: "value" };
      expect(
        (
          await runResourcePolicy(
            configMapNoPlaintextSecrets(),
            fixture(TYPES.ConfigMap, "backend-config", cm),
          )
        ).violations,
      ).toEqual([keyViolation(key)]);
    },
  );

  it("checks binaryData keys", async () => {
    const cm = configMap();
    cm.binaryData = { "tls-secret.pem": "AAAA" };
    expect(
      (await runResourcePolicy(configMapNoPlaintextSecrets(), fixture(TYPES.ConfigMap, "backend-config", cm)))
        .violations,
    ).toEqual([keyViolation("tls-secret.pem")]);
  });

  it("rejects a URL with a password, whatever the key", async () => {
    const cm = configMap();
    if (cm.data) cm.data.REDIS_URL = "rediss://default:hunter2@redis.example.com:6380/0";
    expect(
      (await runResourcePolicy(configMapNoPlaintextSecrets(), fixture(TYPES.ConfigMap, "backend-config", cm)))
        .violations,
    ).toEqual([
      `${REF}, key "REDIS_URL": the value is a URL with a password in it. ${WHY} Keep the URL without credentials in the ConfigMap and pass the password from a Secret.`,
    ]);
  });

  it("takes allowKeys from policy config", async () => {
    const cm = configMap();
    cm.data = { ...cm.data, TOKENIZER: "cl100k_base" };
    const policy = configMapNoPlaintextSecrets();
    const ran = (config: object) =>
      runResourcePolicy(policy, fixture(TYPES.ConfigMap, "backend-config", cm), config);
    expect((await ran({})).violations).toEqual([keyViolation("TOKENIZER")]);
    // A configured list replaces the default one (as the engine does), so keep the defaults you need.
    expect((await ran({ allowKeys: ["TOKENIZER"] })).violations).toEqual([keyViolation("LLM_MAX_TOKENS")]);
    expect((await ran({ allowKeys: ["*MAX_TOKENS", "TOKENIZER"] })).violations).toEqual([]);
  });

  it("reports secret-looking keys even when a value is unknown during preview", async () => {
    const cm = configMap();
    cm.data = { ...cm.data, REDIS_URL: UNKNOWN, API_TOKEN: "x" };
    const policy = configMapNoPlaintextSecrets();
    const reported: string[] = [];
    const validate = policy.validateResource;
    if (typeof validate !== "function") throw new Error("expected one validation");
    // The engine turns the unknown-value error into an advisory note; what was reported stays.
    await expect(
      runResourcePolicy(
        {
          ...policy,
          validateResource: (args, report) => validate(args, (m) => (reported.push(m), report(m))),
        },
        fixture(TYPES.ConfigMap, "backend-config", cm),
      ),
    ).rejects.toThrow("can't be known during preview");
    expect(reported).toEqual([keyViolation("API_TOKEN")]);
  });
});
