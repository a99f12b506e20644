/**
 * The bad-input corpus: valid stack files (dev: existing cluster; staging: Hetzner K3s; prod: GKE;
 * staging and prod with the test stand-ins) with one change each. Every row must fail with exactly
 * one error that names the file, the key (or line:column) and what is allowed, and leave the
 * render output folder as it was.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { AGENT_TYPES } from "../../../infra/catalog";
import { StackConfigError } from "../../../infra/config/errors";
import { PROVIDER_NAMESPACES, readStackFile } from "../../../infra/config/load";
import { resolveStackConfig } from "../../../infra/config/resolve";
import { renderStack, writeRender } from "../../../infra/render/render";
import { standInStackFile } from "../../support/stand-ins";

const ROOT = join(__dirname, "..", "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "corpus-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Stack = "dev" | "staging" | "prod";

/** The valid starting point of each stack, as text. */
const BASE: Record<Stack, string> = {
  dev: readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8"),
  staging: readFileSync(standInStackFile(join(ROOT, "Pulumi.staging.yaml")), "utf8"),
  prod: readFileSync(standInStackFile(join(ROOT, "Pulumi.prod.yaml")), "utf8"),
};

type Edit = (text: string) => string;

/** `cluster.nodePools.agents.minNodes` → the YAML path of that `agent-fleet:` key; digits index lists. */
const yamlPath = (key: string) => {
  const [section = "", ...rest] = key.split(".");
  return ["config", `agent-fleet:${section}`, ...rest.map((s) => (/^\d+$/.test(s) ? Number(s) : s))];
};
const set =
  (key: string, value: unknown): Edit =>
  (text) => {
    const doc = parseDocument(text);
    doc.setIn(yamlPath(key), value);
    return doc.toString();
  };
const remove =
  (key: string): Edit =>
  (text) => {
    const doc = parseDocument(text);
    doc.deleteIn(yamlPath(key));
    return doc.toString();
  };
/** Sets a raw top-level config key (another namespace, or none). */
const setRaw =
  (fullKey: string, value: unknown): Edit =>
  (text) => {
    const doc = parseDocument(text);
    doc.setIn(["config", fullKey], value);
    return doc.toString();
  };
/** Renames a top-level config key, keeping its value. */
const rename =
  (from: string, to: string): Edit =>
  (text) =>
    text.replace(`  ${from}:`, `  ${to}:`);
const replace =
  (from: string, to: string): Edit =>
  (text) => {
    if (!text.includes(from)) throw new Error(`the base has no ${JSON.stringify(from)}`);
    return text.replace(from, to);
  };

/** 1-based line of the first line of `base` that starts with `prefix`. */
const lineOf = (stack: Stack, prefix: string) =>
  BASE[stack].split("\n").findIndex((l) => l.startsWith(prefix)) + 1;
const DEV_END = BASE.dev.split("\n").length;

interface Row {
  stack: Stack;
  change: string;
  edit: Edit;
  /** Where the error points: a key as `pulumi config set --path` writes it, or `:line:col`. */
  at: string;
  /** What the error says is allowed (a part of the message). */
  allowed: string;
}

const row = (stack: Stack, change: string, edit: Edit, at: string, allowed: string): Row => ({
  stack,
  change,
  edit,
  at,
  allowed,
});
const WHOLE = "expected a whole number";
const GKE_REGIONS = "allowed: us-central1, europe-west4 (from infra/prices.ts)";
const NAMESPACES = `allowed namespaces: agent-fleet (this project), ${PROVIDER_NAMESPACES.join(", ")}`;

// prettier-ignore
const ROWS: Row[] = [
  // ---- YAML syntax: file:line:col, no stack trace
  row("dev", "tab indentation", replace("    replicas: 1\n", "\treplicas: 1\n"), `:${lineOf("dev", "    replicas: 1")}:1`, "Tabs are not allowed as indentation"),
  row("dev", "duplicate config key", (t) => `${t}  agent-fleet:runtime:\n    executor: llm\n`, `:${DEV_END}:3`, 'Map keys must be unique: "agent-fleet:runtime" is given twice; keep one'),
  row("dev", "duplicate key in a section", replace("    mode: fixed\n", "    mode: fixed\n    mode: hpa\n"), `:${lineOf("dev", "    mode: fixed") + 1}:5`, 'Map keys must be unique: "mode" is given twice'),
  row("dev", "unclosed quote", replace("    tag: 0.1.0\n", '    tag: "0.1.0\n'), `:${lineOf("dev", "    tag: 0.1.0")}:10`, 'Missing closing "quote'),
  row("dev", "unclosed flow map", replace("    storage: { size: 1Gi }", "    storage: { size: 1Gi"), `:${lineOf("dev", "    storage:") + 1}:5`, "Flow map"),
  // ---- the shape of config:
  row("dev", "config: is a list", () => "config:\n  - agent-fleet:cluster\n", "config", 'expected a map of <namespace>:<key> entries such as "agent-fleet:cluster:"; found a list'),
  row("dev", "config: is a scalar", () => "config: agent-fleet\n", "config", 'found the string "agent-fleet"'),
  row("dev", "the file is a list", () => "- config\n", "", 'expected a map with a "config:" key at the top of the file; found a list'),
  // ---- namespaces and top-level keys
  row("dev", "typo in the namespace", rename("agent-fleet:router", "agent-flet:router"), "agent-flet:router", `(did you mean "agent-fleet:router"?); ${NAMESPACES}`),
  row("dev", "namespace without its dash", rename("agent-fleet:queue", "agentfleet:queue"), "agentfleet:queue", '(did you mean "agent-fleet:queue"?)'),
  row("dev", "key without a namespace", rename("agent-fleet:observability", "observability"), "observability", '(did you mean "agent-fleet:observability"?)'),
  row("dev", "typo in a provider namespace", setRaw("kubernete:context", "kind"), "kubernete:context", '(did you mean "kubernetes:context"?)'),
  row("dev", "typo in a section key", rename("agent-fleet:observability", "agent-fleet:observabilty"), "agent-fleet:observabilty", "unknown key (did you mean observability?); allowed keys: namespace, cluster,"),
  row("dev", "missing required section", remove("images"), "agent-fleet:images", 'required: expected source to be "prebuilt" or "build"'),
  // ---- unknown keys and agents
  row("dev", "unknown agent", set("agents.pyton", { enabled: false }), "agent-fleet:agents.pyton", `unknown agent; allowed agents: ${AGENT_TYPES.join(", ")}`),
  row("dev", "unknown agent key", set("agents.python.replicaz", 2), "agent-fleet:agents.python.replicaz", "unknown key; allowed keys: enabled, minReplicas, maxReplicas, replicas,"),
  row("dev", "unknown key of an existing cluster", set("cluster.region", "europe-west4"), "agent-fleet:cluster.region", "unknown key; allowed keys: provider, kubeconfig, context, nodePools"),
  row("dev", "unknown queue key", set("queue.persistance", "none"), "agent-fleet:queue.persistance", "allowed keys: mode, persistence, image, storage, resources"),
  // ---- wrong types
  row("dev", "number as a word", set("autoscaling.replicas", "one"), "agent-fleet:autoscaling.replicas", `${WHOLE} >= 0`),
  row("dev", "fractional number", set("autoscaling.replicas", 1.5), "agent-fleet:autoscaling.replicas", `${WHOLE} >= 0`),
  row("dev", "boolean as a string", set("mesh.istio.enabled", "yes"), "agent-fleet:mesh.istio.enabled", "expected boolean"),
  row("dev", "string as a number", set("cluster.kubeconfig", 42), "agent-fleet:cluster.kubeconfig", "expected string"),
  row("dev", "section as a list", set("router", [1]), "agent-fleet:router", "expected object"),
  row("dev", "missing required key", remove("images.repository"), "agent-fleet:images.repository", "required: expected string"),
  // ---- out-of-range numbers
  row("dev", "negative replicas", set("autoscaling.replicas", -1), "agent-fleet:autoscaling.replicas", "must be >= 0"),
  row("dev", "zero router replicas", set("router.replicas", 0), "agent-fleet:router.replicas", "must be >= 1"),
  row("dev", "concurrency too high", set("agentDefaults.concurrency", 1000), "agent-fleet:agentDefaults.concurrency", "must be <= 256"),
  row("dev", "task timeout too short", set("agentDefaults.taskTimeoutSeconds", 1), "agent-fleet:agentDefaults.taskTimeoutSeconds", "must be >= 5"),
  row("dev", "maxReplicas zero", set("agents.python.maxReplicas", 0), "agent-fleet:agents.python.maxReplicas", "must be >= 1"),
  row("prod", "canary weight over 100", set("mesh.istio.canary.weight", 150), "agent-fleet:mesh.istio.canary.weight", "must be from 0 to 100"),
  row("prod", "minNodes above maxNodes", set("cluster.nodePools.agents.minNodes", 9), "agent-fleet:cluster.nodePools.agents.minNodes", "must be <= maxNodes (8)"),
  row("prod", "disk too small", set("cluster.nodePools.agents.diskSizeGb", 10), "agent-fleet:cluster.nodePools.agents.diskSizeGb", "must be >= 20"),
  // ---- quantities
  row("dev", "CPU not a quantity", set("agentDefaults.resources.requests.cpu", "lots"), "agent-fleet:agentDefaults.resources.requests.cpu", 'expected a CPU quantity such as "500m" or "2"'),
  row("dev", "memory in MB", set("agentDefaults.resources.limits.memory", "512MB"), "agent-fleet:agentDefaults.resources.limits.memory", 'expected a memory quantity such as "512Mi" or "2Gi"'),
  row("dev", "CPU as a number", set("queue.resources.limits.cpu", 0.5), "agent-fleet:queue.resources.limits.cpu", "expected a CPU quantity string"),
  row("dev", "agentDefaults limit below request", set("agentDefaults.resources.limits.cpu", "50m"), "agent-fleet:agentDefaults.resources.limits.cpu", `must be >= requests.cpu of every agent it applies to: ${AGENT_TYPES.map((a) => `${a} (100m)`).join(", ")}`),
  row("dev", "queue limit below request", set("queue.resources.limits.memory", "64Mi"), "agent-fleet:queue.resources.limits.memory", "must be >= requests.memory (128Mi)"),
  row("dev", "agent limit below request", set("agents.python.resources.limits.cpu", "50m"), "agent-fleet:agents.python.resources.limits.cpu", "must be >= requests.cpu (100m)"),
  // ---- enums
  row("dev", "unknown autoscaling mode", set("autoscaling.mode", "auto"), "agent-fleet:autoscaling.mode", 'expected mode to be "fixed" or "hpa"'),
  row("dev", "unknown executor", set("runtime.executor", "gpt"), "agent-fleet:runtime.executor", 'expected one of "llm"|"echo"'),
  row("dev", "unknown log level", set("observability.logLevel", "verbose"), "agent-fleet:observability.logLevel", 'expected one of "debug"|"info"|"warn"|"error"'),
  row("dev", "unknown persistence", set("queue.persistence", "always"), "agent-fleet:queue.persistence", '"aof-always"|"aof-everysec"|"none"'),
  row("dev", "unknown router auth", set("router.auth", "none"), "agent-fleet:router.auth", 'expected one of "required"|"disabled"'),
  row("dev", "unknown workload kind", set("agents.python.workload", "Pod"), "agent-fleet:agents.python.workload", 'expected one of "Deployment"|"StatefulSet"'),
  row("dev", "unknown cluster provider", set("cluster.provider", "eks"), "agent-fleet:cluster.provider", 'expected provider to be one of "existing", "gke", "hetzner-k3s"'),
  row("dev", "unknown image source", set("images.source", "docker"), "agent-fleet:images.source", 'expected source to be "prebuilt" or "build"'),
  row("dev", "namespace not a DNS label", set("namespace", "Agent_Fleet"), "agent-fleet:namespace", "expected a DNS-1123 label"),
  row("prod", "unknown release channel", set("cluster.releaseChannel", "BETA"), "agent-fleet:cluster.releaseChannel", '"RAPID"|"REGULAR"|"STABLE"'),
  row("staging", "unknown registry kind", set("images.registry.kind", "dockerhub"), "agent-fleet:images.registry.kind", 'expected kind to be one of "artifact-registry", "ecr", "external"'),
  row("staging", "control plane of 2", set("cluster.controlPlane.count", 2), "agent-fleet:cluster.controlPlane.count", "expected 1 or 3 (3 = embedded-etcd HA)"),
  // ---- GKE: regions, zones, machine types
  row("prod", "unknown GKE region", set("cluster.region", "europe-west9"), "agent-fleet:cluster.region", `unknown GKE region; ${GKE_REGIONS}`),
  row("prod", "empty GKE region", set("cluster.region", ""), "agent-fleet:cluster.region", `unknown GKE region; ${GKE_REGIONS}`),
  row("prod", "missing GKE region", remove("cluster.region"), "agent-fleet:cluster.region", `required: expected GKE region; ${GKE_REGIONS}`),
  row("prod", "unknown zone", set("cluster.zone", "europe-west4-z"), "agent-fleet:cluster.zone", "unknown GKE zone; allowed: us-central1-a, us-central1-b, us-central1-c, us-central1-f, europe-west4-a"),
  row("prod", "zone of another region", set("cluster.zone", "us-central1-a"), "agent-fleet:cluster.zone", "must be a zone of region europe-west4; allowed: europe-west4-a, europe-west4-b, europe-west4-c"),
  row("prod", "unknown node location", set("cluster.nodeLocations", ["europe-west4-a", "europe-west4-q"]), "agent-fleet:cluster.nodeLocations[1]", "unknown GKE zone"),
  row("prod", "machine type of no size", set("cluster.nodePools.agents.machineType", "e2-standard-7"), "agent-fleet:cluster.nodePools.agents.machineType", "unknown machine type; allowed: e2-standard-{2,4,8,16,32}, e2-highmem-{2,4,8,16}"),
  row("prod", "machine type of an unpriced family", set("cluster.nodePools.ml.machineType", "c3-standard-8"), "agent-fleet:cluster.nodePools.ml.machineType", "(from infra/prices.ts)"),
  row("prod", "empty machine type", set("cluster.nodePools.agents.machineType", ""), "agent-fleet:cluster.nodePools.agents.machineType", "unknown machine type; allowed:"),
  row("prod", "no authorized network", set("cluster.masterAuthorizedNetworks", []), "agent-fleet:cluster.masterAuthorizedNetworks", "list at least one network"),
  row("prod", "CIDR without a prefix", set("cluster.masterAuthorizedNetworks.0.cidr", "203.0.113.0"), "agent-fleet:cluster.masterAuthorizedNetworks[0].cidr", 'expected an IPv4 CIDR such as "10.0.0.0/16"'),
  row("prod", "agent on a pool the cluster lacks", set("agents.python", { nodePool: "gpu" }), "agent-fleet:agents.python.nodePool", "no node pool \"gpu\" in cluster.nodePools (defined: agents, ml)"),
  // ---- Hetzner: locations, network zones, server types
  row("staging", "unknown location", set("cluster.location", "fra1"), "agent-fleet:cluster.location", "unknown Hetzner location; allowed: fsn1, nbg1, hel1 (from infra/prices.ts)"),
  row("staging", "location the prices do not cover", set("cluster.location", "ash"), "agent-fleet:cluster.location", "allowed: fsn1, nbg1, hel1"),
  row("staging", "unknown network zone", set("cluster.networkZone", "us-east"), "agent-fleet:cluster.networkZone", "unknown Hetzner network zone; allowed: eu-central"),
  row("staging", "unknown server type", set("cluster.nodePools.agents.serverType", "cpx61"), "agent-fleet:cluster.nodePools.agents.serverType", "unknown Hetzner server type; allowed: cx22, cx32, cx42"),
  row("staging", "empty control-plane server type", set("cluster.controlPlane.serverType", ""), "agent-fleet:cluster.controlPlane.serverType", "unknown Hetzner server type"),
  row("staging", "K3s version without +k3s", set("cluster.k3sVersion", "v1.33.5"), "agent-fleet:cluster.k3sVersion", 'expected a K3s release such as "v1.33.5+k3s1"'),
  row("staging", "no API CIDR", set("cluster.firewall.apiCidrs", []), "agent-fleet:cluster.firewall.apiCidrs", "list at least one CIDR allowed to reach the Kubernetes API"),
  row("staging", "GKE-only model backend", set("models.backend.kind", "filestore"), "agent-fleet:models.backend.kind", 'needs cluster.provider "gke" (this stack uses "hetzner-k3s")'),
  // ---- existing clusters
  row("dev", "unknown taint effect", set("cluster.nodePools", { gpu: { taints: [{ key: "k", value: "v", effect: "Never" }] } }), "agent-fleet:cluster.nodePools.gpu.taints[0].effect", '"NoSchedule"|"PreferNoSchedule"|"NoExecute"'),
  // ---- models, mesh
  row("staging", "checksum too short", set("models.files.0.sha256", "abc"), "agent-fleet:models.files[0].sha256", "expected 64 lowercase hex characters"),
  row("staging", "model URL not http", set("models.files.0.url", "ftp://models.example/q.gguf"), "agent-fleet:models.files[0].url", "expected an http(s) URL"),
  row("staging", "unsafe mesh retry", set("mesh.istio.retries", { retryOn: "5xx" }), "agent-fleet:mesh.istio.retries.retryOn", "allowed: connect-failure, refused-stream, 429"),
  row("staging", "unknown API provider", set("secrets.apiKeys", ["mistral"]), "agent-fleet:secrets.apiKeys[0]", 'expected one of "openai"|"anthropic"'),
  // ---- secrets
  row("staging", "empty secure value", set("anthropicApiKey", { secure: "" }), "agent-fleet:anthropicApiKey", "the secure: value is empty; set it with pulumi config set --secret agent-fleet:anthropicApiKey <value>"),
  row("staging", "secure: with nothing", set("registryPassword", { secure: null }), "agent-fleet:registryPassword", "the secure: value is empty"),
  row("staging", "empty secure provider key", setRaw("hcloud:token", { secure: " " }), "hcloud:token", "the secure: value is empty; set it with pulumi config set --secret hcloud:token <value>"),
  row("staging", "plain value where a secret is required", set("anthropicApiKey", "sk-plain"), "agent-fleet:anthropicApiKey = [secret]", "is stored in plain text; secrets must be set with pulumi config set --secret"),
  row("staging", "secret missing", remove("registryPassword"), "agent-fleet:registryPassword", "is missing (referenced by images.registry.passwordKey)"),
];

/** Every file under `dir` with its bytes. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return out;
}

/** A project folder with the row's stack file, and an output folder holding an earlier render. */
function project(r: Row): { dir: string; stackFile: string; out: string } {
  const dir = mkdtempSync(join(scratch, `${r.stack}-`));
  const stackFile = join(dir, `Pulumi.${r.stack}.yaml`);
  writeFileSync(stackFile, r.edit(BASE[r.stack]));
  writeFileSync(join(dir, "Pulumi.yaml"), readFileSync(join(ROOT, "Pulumi.yaml")));
  const out = join(dir, "out");
  writeRender({ objects: [], others: [] }, out);
  return { dir, stackFile, out };
}

/** What `npm run render` does, in-process: the config errors, or none when it rendered. */
async function render(stackFile: string, out: string): Promise<string[]> {
  try {
    writeRender(await renderStack(stackFile), out);
    return [];
  } catch (err) {
    if (err instanceof StackConfigError) return err.lines;
    throw err;
  }
}

const expectedStart = (r: Row) =>
  `Pulumi.${r.stack}.yaml${r.at === "" || r.at.startsWith(":") ? r.at : `: ${r.at}`}`;

describe("bad-input corpus: one change, one error naming the file, the key and what is allowed; nothing written", () => {
  it("has at least 50 rows", () => expect(ROWS.length).toBeGreaterThanOrEqual(50));

  it.each(ROWS.map((r) => [`${r.stack}: ${r.change}`, r] as const))("%s", async (_name, r) => {
    const { stackFile, out } = project(r);
    const before = tree(out);
    const lines = await render(stackFile, out);
    expect(lines).toHaveLength(1);
    const [line = ""] = lines;
    expect(line.startsWith(`${expectedStart(r)}: `) || line.startsWith(`${expectedStart(r)} = `), line).toBe(
      true,
    );
    expect(line).toContain(r.allowed);
    expect(tree(out)).toEqual(before);
  });

  it.each(["dev", "staging", "prod"] as const)(
    "the %s base is valid: each row's one change is its only fault",
    (stack) => {
      const { stackFile } = project(row(stack, "none", (t) => t, "", ""));
      expect(() => resolveStackConfig(readStackFile(stackFile))).not.toThrow();
    },
  );
});

describe("bad input through the real CLI: exit code, every error, no stack trace, nothing written", () => {
  const TSX = join(ROOT, "node_modules", ".bin", "tsx");
  const run = promisify(execFile);
  const cli = async (r: Row) => {
    const { dir, out } = project(r);
    const before = tree(out);
    const args = [join(ROOT, "infra/render/cli.ts"), "--stack", r.stack, "--dir", dir, "--out", out];
    const result = await run(TSX, args, { cwd: ROOT }).then(
      () => ({ code: 0, stderr: "" }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
    return { ...result, unchanged: JSON.stringify([...tree(out)]) === JSON.stringify([...before]) };
  };

  it("cost: a bad stack prints its errors (exit 1), an unknown option the usage (exit 2), no stack trace", async () => {
    const r = ROWS.find((x) => x.change === "unknown GKE region")!;
    const { dir } = project(r);
    const cost = (args: string[]) =>
      run(TSX, [join(ROOT, "infra/cost/cli.ts"), ...args], { cwd: ROOT }).then(
        () => ({ code: 0, stderr: "" }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
    const bad = await cost(["--stack", "prod", "--dir", dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${expectedStart(r)} = "europe-west9": unknown GKE region`);
    expect(bad.stderr).not.toMatch(/^\s+at /m);
    const option = await cost(["--stack", "prod", "--detail"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^cost: Unknown option '--detail'/);
    expect(option.stderr).toContain("usage: npm run cost -- --stack");
    expect(option.stderr).not.toMatch(/^\s+at /m);
  }, 300_000); // spawns the CLI: a limit against a hang on a loaded machine, not a measure of speed

  it("a YAML tab: file:line:col and the parser's reason, exit 1", async () => {
    const r = ROWS.find((x) => x.change === "tab indentation")!;
    const result = await cli(r);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${expectedStart(r)}: Tabs are not allowed as indentation`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.unchanged).toBe(true);
  }, 300_000); // spawns the CLI: a limit against a hang on a loaded machine, not a measure of speed

  it("a namespace typo and a bad value: both reported in one run, exit 1", async () => {
    const both = row(
      "dev",
      "two faults",
      (t) => set("router.replicas", 0)(rename("agent-fleet:queue", "agent-flet:queue")(t)),
      "",
      "",
    );
    const result = await cli(both);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Pulumi.dev.yaml has 2 config errors:");
    expect(result.stderr).toContain(
      'Pulumi.dev.yaml: agent-flet:queue: unknown config namespace "agent-flet"',
    );
    expect(result.stderr).toContain("Pulumi.dev.yaml: agent-fleet:router.replicas = 0: must be >= 1");
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.unchanged).toBe(true);
  }, 300_000); // spawns the CLI: a limit against a hang on a loaded machine, not a measure of speed
});
