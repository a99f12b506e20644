/**
 * The LLM API keys the agents read, as one Kubernetes Secret `llm-api-keys` in the fleet namespace
 * (keys OPENAI_API_KEY / ANTHROPIC_API_KEY), filled by one of two backends:
 *   - `pulumi`: the values are Pulumi config secrets, written into the Secret by Pulumi;
 *   - `aws-secrets-manager`: the values live in AWS Secrets Manager (one secret per key, put there
 *     outside Pulumi), and the External Secrets Operator copies them into the Secret.
 * Either way the pods read `secretKeyRef: { name: llm-api-keys, key: <ENV NAME> }`. See docs/secrets.md.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { API_KEY_ENV, type ApiProvider } from "../../../agent-runtime/src/contract";
import { ArgsProblems } from "../../lib/args";
import { fleetLabels } from "../../lib/labels";

/** The Secret both backends produce. */
export const API_KEYS_SECRET_NAME = "llm-api-keys";

/** The External Secrets Operator chart, pinned (https://charts.external-secrets.io). */
export const ESO_CHART = {
  chart: "external-secrets",
  version: "2.9.0",
  repo: "https://charts.external-secrets.io",
} as const;

/** Keys of the credentials Secret the SecretStore authenticates with (access-key auth). */
const ACCESS_KEY_ID = "access-key-id";
const SECRET_ACCESS_KEY = "secret-access-key";

export interface AwsSecretsManagerBackend {
  kind: "aws-secrets-manager";
  region: string;
  /** Secret names are `<prefix><provider>-api-key`, e.g. agent-fleet/anthropic-api-key. */
  secretPrefix: string;
  /** How often ESO re-reads the secrets, e.g. "1h"; a rotated key reaches new pods after this. */
  refreshInterval: string;
  /** Install the External Secrets Operator with Helm. False: the cluster already runs it (v1 API). */
  installOperator: boolean;
  /** Namespace of the operator when installed. Default "external-secrets". */
  operatorNamespace?: string;
  /**
   * How the SecretStore authenticates to AWS. Default `access-key`: an IAM user that may only read
   * these secrets, whose access key Pulumi puts into a Kubernetes Secret (works on any cluster).
   * `service-account`: IRSA/EKS Pod Identity through an existing ServiceAccount in the namespace
   * that carries the role (no static key; EKS only).
   */
  auth?: { kind: "access-key" } | { kind: "service-account"; serviceAccountName: string };
  /**
   * Initial values (Pulumi secrets). Default: none, the secrets are created empty and their values
   * put with `aws secretsmanager put-secret-value` so they never enter Pulumi state. Given values
   * are written once; later changes made in AWS are left alone.
   */
  initialValues?: Partial<Record<ApiProvider, pulumi.Input<string>>>;
}

export interface SecretsBackendArgs {
  /** The fleet namespace (AgentFleet's `namespace` output), where `llm-api-keys` is created. */
  namespace: pulumi.Input<string>;
  /** Providers whose key the agents need; none = nothing is created. */
  providers: readonly ApiProvider[];
  backend:
    | {
        kind: "pulumi";
        /** The key per provider; wrapped with pulumi.secret here whatever the caller passed. */
        values: Partial<Record<ApiProvider, pulumi.Input<string>>>;
      }
    | AwsSecretsManagerBackend;
}

const DURATION = /^\d+(s|m|h)$/;
const SECRET_PREFIX = /^[A-Za-z0-9/_+=.@-]*$/;

/** Validates SecretsBackendArgs; throws ComponentArgsError listing every problem by property path. */
export function validateSecretsBackendArgs(name: string, args: SecretsBackendArgs): void {
  const problems = new ArgsProblems("SecretsBackend", name);
  const known = Object.keys(API_KEY_ENV);
  args.providers.forEach((p, i) => {
    if (!known.includes(p))
      problems.add(`providers[${i}]`, `"${p}" is not an API provider (allowed: ${known.join(", ")})`);
  });
  if (new Set(args.providers).size !== args.providers.length)
    problems.add("providers", "a provider is listed twice");
  const b = args.backend;
  if (b.kind === "pulumi") {
    for (const p of args.providers) {
      if (b.values[p] === undefined) {
        problems.add(
          `backend.values.${p}`,
          `missing; set it with pulumi config set --secret agent-fleet:${p}ApiKey <key>`,
        );
      }
    }
  } else {
    if (b.region.trim() === "") problems.add("backend.region", "must not be empty");
    if (!SECRET_PREFIX.test(b.secretPrefix)) {
      problems.add(
        "backend.secretPrefix",
        `"${b.secretPrefix}" may hold only letters, digits and / _ + = . @ - (AWS secret names)`,
      );
    }
    if (!DURATION.test(b.refreshInterval)) {
      problems.add("backend.refreshInterval", `"${b.refreshInterval}" is not a duration such as "1h"`);
    }
    if (b.auth?.kind === "service-account" && b.auth.serviceAccountName.trim() === "") {
      problems.add("backend.auth.serviceAccountName", "must not be empty");
    }
  }
  problems.throwIfAny();
}

/** The AWS Secrets Manager name of one provider's key. */
export function awsSecretName(prefix: string, provider: ApiProvider): string {
  return `${prefix}${provider}-api-key`;
}

/** The IAM policy that lets the SecretStore read exactly these secrets, nothing else. */
export function secretsReaderPolicy(secretArns: readonly string[]): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadFleetApiKeys",
        Effect: "Allow",
        Action: [
          "secretsmanager:GetSecretValue",
          "secretsmanager:DescribeSecret",
          "secretsmanager:GetResourcePolicy",
          "secretsmanager:ListSecretVersionIds",
        ],
        Resource: [...secretArns],
      },
    ],
  });
}

/** Helm values of the External Secrets Operator: small, non-root, its CRDs included. */
export function esoValues(): Record<string, unknown> {
  const resources = { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } };
  return {
    installCRDs: true,
    replicaCount: 1,
    resources,
    webhook: { resources },
    certController: { resources },
    // Only namespaced SecretStores are used; the operator needs no cluster-wide stores.
    processClusterStore: false,
    processClusterExternalSecret: false,
  };
}

/**
 * Produces the `llm-api-keys` Secret. `secretName` resolves once the Secret (pulumi) or the
 * ExternalSecret that makes it (aws-secrets-manager) exists: pods that reference it through this
 * output wait for it.
 */
export class SecretsBackend extends pulumi.ComponentResource {
  /** "llm-api-keys", available once the resource that produces it is created. */
  readonly secretName: pulumi.Output<string>;
  /** The keys the Secret holds: the env var names (OPENAI_API_KEY, ANTHROPIC_API_KEY). */
  readonly keys: string[];
  /** secretKeyRef per provider, for the agents' env. */
  readonly keyRefs: Partial<Record<ApiProvider, { name: pulumi.Output<string>; key: string }>>;
  /** AWS secret ARN per provider (aws-secrets-manager backend). */
  readonly awsSecretArns: Partial<Record<ApiProvider, pulumi.Output<string>>>;

  constructor(name: string, args: SecretsBackendArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:secrets:SecretsBackend", name, {}, opts);
    validateSecretsBackendArgs(name, args);
    const child = { parent: this };
    const providers = [...args.providers];
    this.keys = providers.map((p) => API_KEY_ENV[p]);
    this.awsSecretArns = {};
    const metadata = {
      name: API_KEYS_SECRET_NAME,
      namespace: args.namespace,
      labels: fleetLabels("secrets"),
    };

    if (providers.length === 0) {
      this.secretName = pulumi.output(API_KEYS_SECRET_NAME);
    } else if (args.backend.kind === "pulumi") {
      const values = args.backend.values;
      const secret = new k8s.core.v1.Secret(
        `${name}-api-keys`,
        {
          metadata,
          type: "Opaque",
          stringData: Object.fromEntries(
            providers.map((p) => [API_KEY_ENV[p], pulumi.secret(values[p] as pulumi.Input<string>)]),
          ),
        },
        child,
      );
      this.secretName = secret.metadata.name;
    } else {
      this.secretName = this.externalSecret(name, args.namespace, providers, args.backend, metadata);
    }

    this.keyRefs = {};
    for (const p of providers) this.keyRefs[p] = { name: this.secretName, key: API_KEY_ENV[p] };
    this.registerOutputs({ secretName: this.secretName, keys: this.keys, awsSecretArns: this.awsSecretArns });
  }

  /** AWS secrets, the reader identity, the operator, the SecretStore and the ExternalSecret. */
  private externalSecret(
    name: string,
    namespace: pulumi.Input<string>,
    providers: ApiProvider[],
    b: AwsSecretsManagerBackend,
    metadata: { name: string; namespace: pulumi.Input<string>; labels: Record<string, string> },
  ): pulumi.Output<string> {
    const child = { parent: this };
    const secrets = providers.map((p) => {
      const secret = new aws.secretsmanager.Secret(
        `${name}-${p}`,
        {
          name: awsSecretName(b.secretPrefix, p),
          region: b.region,
          description: `${API_KEY_ENV[p]} of the agent-fleet agents (read by the External Secrets Operator)`,
          tags: { "app.kubernetes.io/part-of": "agent-fleet" },
        },
        child,
      );
      const initial = b.initialValues?.[p];
      if (initial !== undefined) {
        new aws.secretsmanager.SecretVersion(
          `${name}-${p}-initial`,
          { secretId: secret.id, region: b.region, secretString: pulumi.secret(initial) },
          // Written once: a key rotated in AWS later is not put back by the next `pulumi up`.
          { parent: this, ignoreChanges: ["secretString"] },
        );
      }
      this.awsSecretArns[p] = secret.arn;
      return secret;
    });

    const operator = b.installOperator
      ? new k8s.helm.v3.Release(
          `${name}-operator`,
          {
            name: "external-secrets",
            chart: ESO_CHART.chart,
            version: ESO_CHART.version,
            repositoryOpts: { repo: ESO_CHART.repo },
            namespace: b.operatorNamespace ?? "external-secrets",
            createNamespace: true,
            atomic: true,
            timeout: 600,
            values: esoValues(),
          },
          child,
        )
      : undefined;

    const storeName = "aws-secrets-manager";
    let auth: Record<string, unknown>;
    const storeDeps: pulumi.Resource[] = operator ? [operator] : [];
    if (b.auth?.kind === "service-account") {
      auth = { jwt: { serviceAccountRef: { name: b.auth.serviceAccountName } } };
    } else {
      const user = new aws.iam.User(
        `${name}-reader`,
        { path: "/agent-fleet/", tags: { "app.kubernetes.io/part-of": "agent-fleet" } },
        child,
      );
      new aws.iam.UserPolicy(
        `${name}-reader`,
        {
          user: user.name,
          policy: pulumi.all(secrets.map((s) => s.arn)).apply((arns) => secretsReaderPolicy(arns)),
        },
        child,
      );
      const key = new aws.iam.AccessKey(`${name}-reader`, { user: user.name }, child);
      const credentials = new k8s.core.v1.Secret(
        `${name}-aws-credentials`,
        {
          metadata: { name: "aws-secrets-manager-credentials", namespace, labels: fleetLabels("secrets") },
          type: "Opaque",
          stringData: {
            [ACCESS_KEY_ID]: pulumi.secret(key.id),
            [SECRET_ACCESS_KEY]: pulumi.secret(key.secret),
          },
        },
        child,
      );
      storeDeps.push(credentials);
      auth = {
        secretRef: {
          accessKeyIDSecretRef: { name: credentials.metadata.name, key: ACCESS_KEY_ID },
          secretAccessKeySecretRef: { name: credentials.metadata.name, key: SECRET_ACCESS_KEY },
        },
      };
    }

    const store = new k8s.apiextensions.CustomResource(
      `${name}-store`,
      {
        apiVersion: "external-secrets.io/v1",
        kind: "SecretStore",
        metadata: { name: storeName, namespace, labels: fleetLabels("secrets") },
        spec: { provider: { aws: { service: "SecretsManager", region: b.region, auth } } },
      },
      { parent: this, dependsOn: storeDeps },
    );

    const external = new k8s.apiextensions.CustomResource(
      `${name}-api-keys`,
      {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata,
        spec: {
          refreshInterval: b.refreshInterval,
          secretStoreRef: { name: store.metadata.name, kind: "SecretStore" },
          target: {
            name: API_KEYS_SECRET_NAME,
            creationPolicy: "Owner",
            template: { type: "Opaque", metadata: { labels: fleetLabels("secrets") } },
          },
          data: providers.map((p) => ({
            secretKey: API_KEY_ENV[p],
            remoteRef: { key: awsSecretName(b.secretPrefix, p) },
          })),
        },
      },
      { parent: this, dependsOn: [store, ...secrets] },
    );
    return external.id.apply(() => API_KEYS_SECRET_NAME);
  }
}
