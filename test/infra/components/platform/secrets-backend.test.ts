import { describe, expect, it } from "vitest";
import {
  API_KEYS_SECRET_NAME,
  awsSecretName,
  ESO_CHART,
  esoValues,
  SecretsBackend,
  secretsReaderPolicy,
  validateSecretsBackendArgs,
  type AwsSecretsManagerBackend,
  type SecretsBackendArgs,
} from "../../../../infra/components/platform/secrets-backend";
import { fakeValue, promiseOf } from "../../../../infra/render/mocks";
import { named, ofType, underMocks } from "../../support/under-mocks";

const SECRET = "kubernetes:core/v1:Secret";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const STORE = "kubernetes:external-secrets.io/v1:SecretStore";
const EXTERNAL = "kubernetes:external-secrets.io/v1:ExternalSecret";
const AWS_SECRET = "aws:secretsmanager/secret:Secret";
const AWS_VERSION = "aws:secretsmanager/secretVersion:SecretVersion";
const LABELS = {
  "app.kubernetes.io/part-of": "agent-fleet",
  "app.kubernetes.io/managed-by": "pulumi",
  "app.kubernetes.io/component": "secrets",
};

const AWS: AwsSecretsManagerBackend = {
  kind: "aws-secrets-manager",
  region: "eu-central-1",
  secretPrefix: "agent-fleet/prod/",
  refreshInterval: "1h",
  installOperator: true,
};

async function backend(args: SecretsBackendArgs) {
  return underMocks(async () => {
    const b = new SecretsBackend("secrets", args);
    return {
      backend: b,
      secretName: await promiseOf(b.secretName),
      keyRef: b.keyRefs.anthropic ? await promiseOf(b.keyRefs.anthropic.name) : undefined,
    };
  });
}

describe("validateSecretsBackendArgs", () => {
  it("names every problem with its field", () => {
    expect(() =>
      validateSecretsBackendArgs("secrets", {
        namespace: "ns",
        providers: ["openai", "anthropic", "openai"],
        backend: { kind: "pulumi", values: { openai: "k" } },
      }),
    ).toThrow(
      'SecretsBackend "secrets": providers: a provider is listed twice; backend.values.anthropic: missing; set it with pulumi config set --secret agent-fleet:anthropicApiKey <key>',
    );
    expect(() =>
      validateSecretsBackendArgs("secrets", {
        namespace: "ns",
        providers: ["mistral" as "openai"],
        backend: {
          ...AWS,
          region: "",
          secretPrefix: "agent fleet/",
          refreshInterval: "1 hour",
          auth: { kind: "service-account", serviceAccountName: " " },
        },
      }),
    ).toThrow(
      'SecretsBackend "secrets": providers[0]: "mistral" is not an API provider (allowed: openai, anthropic); backend.region: must not be empty; backend.secretPrefix: "agent fleet/" may hold only letters, digits and / _ + = . @ - (AWS secret names); backend.refreshInterval: "1 hour" is not a duration such as "1h"; backend.auth.serviceAccountName: must not be empty',
    );
  });
});

describe("SecretsBackend: pulumi", () => {
  it("writes llm-api-keys from Pulumi secrets, one key per provider", async () => {
    const { mocks, result } = await backend({
      namespace: "agent-fleet",
      providers: ["anthropic", "openai"],
      // Plain strings on purpose: the component must make them secrets itself.
      backend: { kind: "pulumi", values: { anthropic: "sk-ant-test", openai: "sk-test" } },
    });
    const secrets = ofType(mocks, SECRET);
    expect(secrets).toHaveLength(1);
    const s = secrets[0]!;
    expect(s.name).toBe("secrets-api-keys");
    expect(s.inputs.metadata).toEqual({ name: "llm-api-keys", namespace: "agent-fleet", labels: LABELS });
    expect(s.inputs.type).toBe("Opaque");
    expect(s.inputs.stringData).toEqual({ ANTHROPIC_API_KEY: "sk-ant-test", OPENAI_API_KEY: "sk-test" });
    expect(s.secretKeys).toEqual(["stringData"]);
    expect(JSON.stringify(s.redacted)).not.toContain("sk-");
    expect(mocks.resources.filter((r) => r.custom)).toHaveLength(1);

    expect(result.secretName).toBe(API_KEYS_SECRET_NAME);
    expect(result.backend.keys).toEqual(["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]);
    expect(result.keyRef).toBe("llm-api-keys");
    expect(result.backend.keyRefs.openai?.key).toBe("OPENAI_API_KEY");
  });

  it("creates nothing when no agent needs a key", async () => {
    const { mocks, result } = await backend({
      namespace: "ns",
      providers: [],
      backend: { kind: "pulumi", values: {} },
    });
    expect(mocks.resources.filter((r) => r.custom)).toEqual([]);
    expect(result.backend.keys).toEqual([]);
    expect(result.secretName).toBe("llm-api-keys");
  });
});

describe("SecretsBackend: aws-secrets-manager", () => {
  it("AWS secrets, a read-only IAM identity, the operator, a SecretStore and an ExternalSecret", async () => {
    const { mocks, result } = await backend({
      namespace: "agent-fleet",
      providers: ["anthropic", "openai"],
      backend: AWS,
    });

    // One secret container per key; the values are put outside Pulumi.
    const awsSecrets = ofType(mocks, AWS_SECRET);
    expect(awsSecrets.map((s) => s.inputs.name)).toEqual([
      "agent-fleet/prod/anthropic-api-key",
      "agent-fleet/prod/openai-api-key",
    ]);
    for (const s of awsSecrets) expect(s.inputs.region).toBe("eu-central-1");
    expect(ofType(mocks, AWS_VERSION)).toEqual([]);

    // The operator, pinned.
    const release = ofType(mocks, RELEASE);
    expect(release).toHaveLength(1);
    expect(release[0]!.inputs).toMatchObject({
      name: "external-secrets",
      chart: "external-secrets",
      version: "2.9.0",
      repositoryOpts: { repo: "https://charts.external-secrets.io" },
      namespace: "external-secrets",
      createNamespace: true,
      atomic: true,
    });
    expect(release[0]!.inputs.values).toEqual(esoValues());
    expect(esoValues()).toMatchObject({ installCRDs: true, processClusterStore: false });

    // An IAM user that may read exactly these two secrets.
    const policy = named(mocks, "aws:iam/userPolicy:UserPolicy", "secrets-reader").inputs;
    const arns = awsSecrets.map(
      (s) => `arn:aws:secretsmanager:eu-central-1:123456789012:secret:${String(s.inputs.name)}-`,
    );
    const statement = (
      JSON.parse(policy.policy as string) as { Statement: { Resource: string[]; Action: string[] }[] }
    ).Statement[0]!;
    expect(statement.Resource).toHaveLength(2);
    statement.Resource.forEach((r, i) => expect(r.startsWith(arns[i]!)).toBe(true));
    expect(statement.Action).toEqual([
      "secretsmanager:GetSecretValue",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetResourcePolicy",
      "secretsmanager:ListSecretVersionIds",
    ]);
    expect(named(mocks, "aws:iam/user:User", "secrets-reader").inputs.path).toBe("/agent-fleet/");
    const user = `secrets-reader-${fakeValue("autoname", "secrets-reader", 7)}`;
    expect(policy.user).toBe(user);
    expect(named(mocks, "aws:iam/accessKey:AccessKey", "secrets-reader").inputs.user).toBe(user);

    // Its access key, as a Kubernetes Secret whose data are Pulumi secrets.
    const credentials = named(mocks, SECRET, "secrets-aws-credentials");
    expect(credentials.inputs.metadata).toEqual({
      name: "aws-secrets-manager-credentials",
      namespace: "agent-fleet",
      labels: LABELS,
    });
    expect(Object.keys(credentials.inputs.stringData as object)).toEqual([
      "access-key-id",
      "secret-access-key",
    ]);
    expect(credentials.secretKeys).toEqual(["stringData"]);
    expect(JSON.stringify(credentials.redacted)).not.toContain("mock-");

    const store = ofType(mocks, STORE);
    expect(store).toHaveLength(1);
    expect(store[0]!.inputs).toEqual({
      apiVersion: "external-secrets.io/v1",
      kind: "SecretStore",
      metadata: { name: "aws-secrets-manager", namespace: "agent-fleet", labels: LABELS },
      spec: {
        provider: {
          aws: {
            service: "SecretsManager",
            region: "eu-central-1",
            auth: {
              secretRef: {
                accessKeyIDSecretRef: { name: "aws-secrets-manager-credentials", key: "access-key-id" },
                secretAccessKeySecretRef: {
                  name: "aws-secrets-manager-credentials",
                  key: "secret-access-key",
                },
              },
            },
          },
        },
      },
    });

    const external = ofType(mocks, EXTERNAL);
    expect(external).toHaveLength(1);
    expect(external[0]!.inputs).toEqual({
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "llm-api-keys", namespace: "agent-fleet", labels: LABELS },
      spec: {
        refreshInterval: "1h",
        secretStoreRef: { name: "aws-secrets-manager", kind: "SecretStore" },
        target: {
          name: "llm-api-keys",
          creationPolicy: "Owner",
          template: { type: "Opaque", metadata: { labels: LABELS } },
        },
        data: [
          { secretKey: "ANTHROPIC_API_KEY", remoteRef: { key: "agent-fleet/prod/anthropic-api-key" } },
          { secretKey: "OPENAI_API_KEY", remoteRef: { key: "agent-fleet/prod/openai-api-key" } },
        ],
      },
    });
    // Pulumi writes no llm-api-keys Secret itself under this backend: the operator does.
    expect(ofType(mocks, SECRET).map((s) => s.name)).toEqual(["secrets-aws-credentials"]);

    expect(result.secretName).toBe("llm-api-keys");
    expect(result.backend.keys).toEqual(["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]);
  });

  it("IRSA auth, an operator already installed, and initial values written once as secrets", async () => {
    const { mocks } = await backend({
      namespace: "fleet",
      providers: ["anthropic"],
      backend: {
        ...AWS,
        secretPrefix: "",
        installOperator: false,
        refreshInterval: "15m",
        auth: { kind: "service-account", serviceAccountName: "secrets-reader" },
        initialValues: { anthropic: "sk-ant-initial" },
      },
    });
    expect(ofType(mocks, RELEASE)).toEqual([]);
    expect(mocks.resources.filter((r) => r.type.startsWith("aws:iam/"))).toEqual([]);
    expect(ofType(mocks, SECRET)).toEqual([]);
    const store = ofType(mocks, STORE)[0]!.inputs as { spec: { provider: { aws: { auth: unknown } } } };
    expect(store.spec.provider.aws.auth).toEqual({ jwt: { serviceAccountRef: { name: "secrets-reader" } } });
    const version = named(mocks, AWS_VERSION, "secrets-anthropic-initial");
    expect(version.inputs.secretString).toBe("sk-ant-initial");
    expect(version.secretKeys).toContain("secretString");
    const external = ofType(mocks, EXTERNAL)[0]!.inputs as { spec: Record<string, unknown> };
    expect(external.spec.refreshInterval).toBe("15m");
    expect(external.spec.data).toEqual([
      { secretKey: "ANTHROPIC_API_KEY", remoteRef: { key: "anthropic-api-key" } },
    ]);
  });

  it("helpers", () => {
    expect(awsSecretName("agent-fleet/", "openai")).toBe("agent-fleet/openai-api-key");
    expect(JSON.parse(secretsReaderPolicy(["arn:a"]))).toMatchObject({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Resource: ["arn:a"] }],
    });
    expect(ESO_CHART.version).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
