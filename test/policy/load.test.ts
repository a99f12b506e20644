/**
 * Loads the pack the way the Pulumi CLI does for `pulumi preview --policy-pack policy`: the Node.js
 * language host runs `node <@pulumi/pulumi>/cmd/run-policy-pack <engine> <pack dir>` in the pack
 * folder, which `require`s the folder (package.json "main" = dist/index.js) and prints the port of
 * the analyzer it serves. The test builds the pack, starts it like that, and talks to the analyzer
 * over gRPC as the engine would: info, config, one resource and one stack analysis.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import {
  AnalyzeRequest,
  AnalyzeStackRequest,
  AnalyzerResource,
  AnalyzerResourceOptions,
  type AnalyzerInfo,
  ConfigureAnalyzerRequest,
  EnforcementLevel,
  PolicyConfig,
  type AnalyzeResponse,
} from "@pulumi/pulumi/proto/analyzer_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TYPES, containerOf, deployment, hpa, podOf, securityOf } from "./support/fixtures";
import { k8sOutputs, urnOf } from "./support/harness";
import { buildPolicyPack, POLICY_PACK_DIR } from "../support/policy-pack";

let pack: ChildProcess | undefined;
let client: AnalyzerClient;

/** Promisifies a unary call of the generated client. */
function unary<Res>(
  invoke: (done: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((ok, fail) => {
    invoke((err, res) => (err ? fail(err) : ok(res)));
  });
}

function resourceRequest(type: string, name: string, props: object): AnalyzeRequest {
  return new AnalyzeRequest()
    .setType(type)
    .setName(name)
    .setUrn(urnOf({ type, name }))
    .setProperties(Struct.fromJavaScript(JSON.parse(JSON.stringify(props)) as Record<string, never>))
    .setOptions(new AnalyzerResourceOptions());
}

function analyze(request: AnalyzeRequest): Promise<AnalyzeResponse> {
  return unary((done) => client.analyze(request, done));
}

function diagnostics(response: AnalyzeResponse) {
  return response
    .getDiagnosticsList()
    .map((d) => ({ policy: d.getPolicyname(), level: d.getEnforcementlevel(), message: d.getMessage() }));
}

beforeAll(async () => {
  buildPolicyPack();
  // Resolved from the pack folder, as the language host's locateModule does.
  const runPolicyPack = createRequire(join(POLICY_PACK_DIR, "package.json")).resolve(
    "@pulumi/pulumi/cmd/run-policy-pack",
  );
  const child = spawn(process.execPath, [runPolicyPack, "127.0.0.1:0", POLICY_PACK_DIR], {
    cwd: POLICY_PACK_DIR,
    stdio: ["ignore", "pipe", "pipe"],
  });
  pack = child;
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<string>((ok, fail) => {
    createInterface({ input: child.stdout }).once("line", ok);
    child.once("exit", (code) => fail(new Error(`policy pack exited with ${code}: ${stderr}`)));
  });
  expect(port).toMatch(/^\d+$/);
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, 120_000);

afterAll(() => {
  client?.close();
  pack?.kill();
});

describe("the pack as the Pulumi CLI loads it", () => {
  it("serves its name, version and every policy with its level", async () => {
    const info = await unary<AnalyzerInfo>((done) => client.getAnalyzerInfo(new Empty(), done));
    expect(info.getName()).toBe("agent-fleet");
    expect(info.getVersion()).toBe("0.1.0");
    const levels = Object.fromEntries(
      info.getPoliciesList().map((p) => [p.getName(), p.getEnforcementlevel()]),
    );
    expect(Object.keys(levels)).toHaveLength(16);
    expect(levels["workload-run-as-non-root"]).toBe(EnforcementLevel.MANDATORY);
    expect(levels["workload-image-pinned"]).toBe(EnforcementLevel.ADVISORY);
    // The defaults in each config schema are what the engine fills in before `configure`.
    const schema = info.getPoliciesList().find((p) => p.getName() === "workload-model-volumes-read-only");
    expect(schema?.getConfigschema()?.getProperties()?.toJavaScript()).toMatchObject({
      exempt: { default: ["Job */model-loader-*"] },
      claimPrefix: { default: "models" },
    });
  });

  it("passes a compliant Deployment and reports a broken one", async () => {
    const ok = await analyze(resourceRequest(TYPES.Deployment, "backend-workload", deployment()));
    expect(diagnostics(ok)).toEqual([]);

    const broken = deployment();
    securityOf(containerOf(podOf(broken), "agent")).readOnlyRootFilesystem = false;
    const response = await analyze(resourceRequest(TYPES.Deployment, "backend-workload", broken));
    expect(diagnostics(response)).toEqual([
      {
        policy: "workload-read-only-root-filesystem",
        level: EnforcementLevel.MANDATORY,
        message: expect.stringMatching(
          // The analyzer prints the policy's description, then the message.
          /^Every container has .*\nDeployment agent-fleet\/agent-backend, container "agent": securityContext\.readOnlyRootFilesystem is not true\./,
        ) as unknown,
      },
    ]);
  });

  it("tells declared fields from server defaults in stack policies by the live object's managedFields", async () => {
    const live = k8sOutputs(deployment(), (o) => ((o.spec as { replicas?: number }).replicas = 1));
    const resources = [
      { type: TYPES.Deployment, name: "backend-workload", props: live },
      { type: TYPES.HpaV2, name: "backend-hpa", props: k8sOutputs(hpa()) },
    ].map((r) =>
      new AnalyzerResource()
        .setType(r.type)
        .setName(r.name)
        .setUrn(urnOf(r))
        .setProperties(Struct.fromJavaScript(JSON.parse(JSON.stringify(r.props)) as Record<string, never>))
        .setOptions(new AnalyzerResourceOptions()),
    );
    const response = await unary<AnalyzeResponse>((done) =>
      client.analyzeStack(new AnalyzeStackRequest().setResourcesList(resources), done),
    );
    // The server's replicas: 1 is not a declared replicas; the namespace has no default-deny, though.
    expect(diagnostics(response).map((d) => d.policy)).toEqual(["namespace-default-deny-network-policy"]);
  });

  it("takes per-stack policy config (enforcement level and properties) through configure", async () => {
    const request = new ConfigureAnalyzerRequest();
    request
      .getPolicyconfigMap()
      .set(
        "workload-image-pinned",
        new PolicyConfig()
          .setEnforcementlevel(EnforcementLevel.MANDATORY)
          .setProperties(Struct.fromJavaScript({ exempt: [], requireDigest: true })),
      );
    await unary((done) => client.configure(request, done));
    const tagged = deployment();
    containerOf(podOf(tagged), "agent").image = "registry.example.com/agent-fleet/agent:1.4.2";
    const response = await analyze(resourceRequest(TYPES.Deployment, "backend-workload", tagged));
    expect(diagnostics(response)).toEqual([
      {
        policy: "workload-image-pinned",
        level: EnforcementLevel.MANDATORY,
        message: expect.stringContaining(
          'image "registry.example.com/agent-fleet/agent:1.4.2" is not pinned by digest',
        ) as unknown,
      },
    ]);
  });
});
