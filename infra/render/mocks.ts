/**
 * Pulumi runtime mocks that record every resource the program registers, for the offline renderer
 * and the infra tests. Provider-computed outputs that the program reads back (generated passwords,
 * certificates, image digests, cluster endpoints) get deterministic stand-ins so renders repeat
 * byte for byte; unmocked function calls throw, so nothing silently reaches a cloud.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
  type: string;
  name: string;
  /** Inputs as the program gave them, secrets unwrapped to their values (for assertions). */
  inputs: Record<string, unknown>;
  /** The same inputs with every secret replaced by SECRET_MARKER (what render writes). */
  redacted: Record<string, unknown>;
  /** Top-level input keys that held a Pulumi secret. */
  secretKeys: string[];
  provider?: string;
  /** False for component resources (they only group children). */
  custom: boolean;
}

type State = Record<string, unknown>;

/** Stands in for a Pulumi secret in rendered output. */
export const SECRET_MARKER = "[secret]";

// How the SDK marks a secret value on the wire (sdk/nodejs/runtime/rpc.ts: specialSigKey, specialSecretSig).
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** Replaces every wire-format secret in `v` with `replace(secretValue)`. */
export function mapSecrets(v: unknown, replace: (secret: unknown) => unknown): unknown {
  if (isSecretValue(v)) return replace(mapSecrets(v.value, replace));
  if (Array.isArray(v)) return v.map((x) => mapSecrets(x, replace));
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapSecrets(x, replace)]));
  }
  return v;
}

/** True when `v` contains a wire-format secret anywhere. */
export function containsSecret(v: unknown): boolean {
  let found = false;
  mapSecrets(v, (x) => ((found = true), x));
  return found;
}

/** A stable fake value derived from the resource's name: same program, same bytes. */
export function fakeValue(kind: string, name: string, length = 64): string {
  return createHash("sha256").update(`${kind}:${name}`).digest("hex").slice(0, length);
}

/** Computed outputs per resource type, added to the recorded inputs. */
const COMPUTED: Record<string, (name: string, inputs: State) => State> = {
  "random:index/randomPassword:RandomPassword": (name) => ({
    result: `mock-${fakeValue("password", name, 32)}`,
  }),
  "random:index/randomBytes:RandomBytes": (name) => ({
    base64: Buffer.from(fakeValue("bytes", name, 32)).toString("base64"),
    hex: fakeValue("bytes", name, 32),
  }),
  "tls:index/privateKey:PrivateKey": (name) => ({
    privateKeyPem: `-----BEGIN MOCK PRIVATE KEY-----\n${fakeValue("key", name)}\n-----END MOCK PRIVATE KEY-----\n`,
    publicKeyPem: `-----BEGIN MOCK PUBLIC KEY-----\n${fakeValue("pub", name)}\n-----END MOCK PUBLIC KEY-----\n`,
  }),
  "tls:index/selfSignedCert:SelfSignedCert": (name) => ({
    certPem: `-----BEGIN MOCK CERTIFICATE-----\n${fakeValue("cert", name)}\n-----END MOCK CERTIFICATE-----\n`,
  }),
  "tls:index/locallySignedCert:LocallySignedCert": (name) => ({
    certPem: `-----BEGIN MOCK CERTIFICATE-----\n${fakeValue("cert", name)}\n-----END MOCK CERTIFICATE-----\n`,
  }),
  "docker-build:index:Image": (name) => ({ digest: `sha256:${fakeValue("digest", name)}`, ref: "" }),
  "gcp:container/cluster:Cluster": (name) => ({
    endpoint: "203.0.113.10",
    masterAuth: { clusterCaCertificate: Buffer.from(`mock-ca-${name}`).toString("base64") },
  }),
  "tls:index/certRequest:CertRequest": (name) => ({
    certRequestPem: `-----BEGIN MOCK CERTIFICATE REQUEST-----\n${fakeValue("csr", name)}\n-----END MOCK CERTIFICATE REQUEST-----\n`,
  }),
  "hcloud:index/primaryIp:PrimaryIp": (name) => ({
    ipAddress: `203.0.113.${(parseInt(fakeValue("ip", name, 2), 16) % 200) + 30}`,
  }),
  // The API server assigns a Service its cluster IP; the hcloud-nfs model volume reads it back
  // (PersistentVolume spec.nfs.server). A stand-in from the default service range, unless headless.
  "kubernetes:core/v1:Service": (name, inputs) => {
    const spec = (inputs.spec ?? {}) as State;
    if (spec.clusterIP !== undefined) return {};
    const n = Number.parseInt(fakeValue("cluster-ip", name, 4), 16);
    return { spec: { ...spec, clusterIP: `10.96.${(n >> 8) % 256}.${(n % 254) + 1}` } };
  },
  "gcp:serviceaccount/account:Account": (_name, inputs) => ({
    email: `${String(inputs.accountId)}@${String(inputs.project)}.iam.gserviceaccount.com`,
  }),
  "hcloud:index/server:Server": (name) => ({
    ipv4Address: "203.0.113.20",
    ipv6Address: "2001:db8::20",
    id: name,
  }),
  "gcp:artifactregistry/repository:Repository": (_name, inputs) => {
    const project = text(inputs.project, MOCK_GCP_PROJECT);
    return {
      project,
      registryUri: `${text(inputs.location, "us")}-docker.pkg.dev/${project}/${text(inputs.repositoryId, "")}`,
    };
  },
  "aws:ecr/repository:Repository": (name, inputs) => {
    const [region, repo] = [text(inputs.region, MOCK_AWS_REGION), text(inputs.name, name)];
    return {
      arn: `arn:aws:ecr:${region}:${MOCK_AWS_ACCOUNT}:repository/${repo}`,
      registryId: MOCK_AWS_ACCOUNT,
      repositoryUrl: `${MOCK_AWS_ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${repo}`,
    };
  },
  "aws:secretsmanager/secret:Secret": (name, inputs) => ({
    arn: `arn:aws:secretsmanager:${text(inputs.region, MOCK_AWS_REGION)}:${MOCK_AWS_ACCOUNT}:secret:${text(inputs.name, name)}-${fakeValue("suffix", name, 6)}`,
  }),
  "aws:iam/user:User": (name, inputs) => {
    // Auto-named like the engine does: <resource name>-<7 random characters>.
    const user = text(inputs.name, `${name}-${fakeValue("autoname", name, 7)}`);
    return { name: user, arn: `arn:aws:iam::${MOCK_AWS_ACCOUNT}:user${text(inputs.path, "/")}${user}` };
  },
  "aws:iam/accessKey:AccessKey": (name) => ({ secret: `mock-${fakeValue("aws-secret-key", name, 40)}` }),
};

const MOCK_AWS_ACCOUNT = "123456789012";
const MOCK_AWS_REGION = "us-east-1";
const MOCK_GCP_PROJECT = "mock-project";

function text(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

/** Provider functions the program calls (short-lived registry credentials), with stand-in results. */
const CALLS: Record<string, (inputs: State) => State> = {
  "aws:ecr/getAuthorizationToken:getAuthorizationToken": (inputs) => {
    const region = text(inputs.region, MOCK_AWS_REGION);
    return {
      authorizationToken: Buffer.from("AWS:mock-ecr-token").toString("base64"),
      expiresAt: "2000-01-01T12:00:00Z",
      id: region,
      password: "mock-ecr-token",
      proxyEndpoint: `https://${MOCK_AWS_ACCOUNT}.dkr.ecr.${region}.amazonaws.com`,
      region,
      userName: "AWS",
    };
  },
  "gcp:organizations/getClientConfig:getClientConfig": () => ({
    accessToken: "mock-gcp-access-token",
    id: "mock-client-config",
    project: MOCK_GCP_PROJECT,
    region: "",
    zone: "",
  }),
};

/** Deterministic mocks that record registrations. */
export class RecordingMocks implements pulumi.runtime.Mocks {
  readonly resources: RecordedResource[] = [];

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: State } {
    const inputs = (args.inputs ?? {}) as State;
    this.resources.push({
      type: args.type,
      name: args.name,
      inputs: mapSecrets(inputs, (x) => x) as State,
      redacted: mapSecrets(inputs, () => SECRET_MARKER) as State,
      secretKeys: Object.keys(inputs).filter((k) => containsSecret(inputs[k])),
      custom: args.custom !== false,
      ...(args.provider !== undefined ? { provider: args.provider } : {}),
    });
    const computed = COMPUTED[args.type]?.(args.name, inputs) ?? {};
    // hcloud resources reference each other by numeric id; others take any string.
    const id = args.type.startsWith("hcloud:")
      ? String(Number.parseInt(fakeValue("id", args.name, 8), 16))
      : `${args.name}-id`;
    return { id, state: { ...inputs, ...computed } };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    const call = CALLS[args.token];
    if (call) return call((args.inputs ?? {}) as State);
    throw new Error(`unmocked function call ${args.token}: the renderer evaluates programs offline`);
  }
}

/** Installs fresh recording mocks for `stack`; returns them. */
export async function installMocks(stack: string): Promise<RecordingMocks> {
  const mocks = new RecordingMocks();
  await pulumi.runtime.setMocks(mocks, "agent-fleet", stack, false);
  return mocks;
}

/** Resolves an Output's value (tests and the renderer). */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}
