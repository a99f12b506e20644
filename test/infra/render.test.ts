import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { RENDER_MARKER, RenderOutError } from "../../infra/render/out-dir";
import { renderConfig, writeRender, type RenderedObject } from "../../infra/render/render";
import { standInStackFile } from "../support/stand-ins";
import { byName, renderStackConfig, stackConfig, type Manifest } from "./support/stacks";

const ROOT = join(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "render-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function render(args: string[]) {
  try {
    const { stdout, stderr } = await run(TSX, [join(ROOT, "infra/render/cli.ts"), ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every file under `dir` with its bytes, keyed by relative path, in sorted order. */
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

/** A project folder holding the stack's file with the test stand-ins for its placeholders. */
function standInProject(stack: string): string {
  const file = standInStackFile(join(ROOT, `Pulumi.${stack}.yaml`));
  writeFileSync(join(dirname(file), "Pulumi.yaml"), readFileSync(join(ROOT, "Pulumi.yaml")));
  return dirname(file);
}

describe("npm run render", () => {
  it.each(["dev", "staging", "prod", "e2e"])(
    "renders %s deterministically: two runs, byte-identical files",
    async (stack) => {
      const a = join(scratch, `${stack}-a`);
      const b = join(scratch, `${stack}-b`);
      const dir = ["dev", "e2e"].includes(stack) ? [] : ["--dir", standInProject(stack)];
      const first = await render(["--stack", stack, "--out", a, ...dir]);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      const second = await render(["--stack", stack, "--out", b, ...dir]);
      expect(second.code).toBe(0);
      const ta = tree(a);
      expect(ta.size).toBeGreaterThan(12);
      expect(ta).toEqual(tree(b));
      expect(ta.has("_cluster/namespace-agent-fleet.yaml")).toBe(true);
      // kubectl reads YAML 1.1 (unquoted yes/on/0777 are not strings there): every file must mean
      // the same under 1.1 as under 1.2, e.g. Redis' "--appendonly yes" stays a string.
      for (const [file, text] of ta) expect(parse(text, { version: "1.1" }), file).toEqual(parse(text));
      // The summary table names every agent with its workload kind.
      for (const agent of ["python", "ml", "integration"])
        expect(first.stdout).toMatch(new RegExp(`^${agent}\\s+`, "m"));
    },
    120_000,
  );

  it.each(["staging", "prod"])(
    "%s as shipped: refuses the model's placeholder checksum and the example host, naming file and keys; writes nothing",
    async (stack) => {
      const out = join(scratch, `${stack}-shipped`);
      const result = await render(["--stack", stack, "--out", out]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Pulumi.${stack}.yaml has 2 config errors:`);
      expect(result.stderr).toContain(
        `Pulumi.${stack}.yaml: agent-fleet:models.files[0].sha256 = "${"0".repeat(64)}": is the all-zero placeholder for "qwen3-8b-q4_k_m.gguf"`,
      );
      expect(result.stderr).toContain('shows it under "Git LFS Details" (SHA256)');
      expect(result.stderr).toMatch(
        new RegExp(
          `Pulumi\\.${stack}\\.yaml: agent-fleet:mesh\\.istio\\.ingress\\.host = "[\\w.-]+\\.example\\.com": is a reserved example domain`,
        ),
      );
      expect(existsSync(out)).toBe(false);
    },
    60_000,
  );

  it("invalid config: exit 1, every error printed, nothing written", async () => {
    const dir = mkdtempSync(join(scratch, "bad-"));
    writeFileSync(join(dir, "Pulumi.yaml"), readFileSync(join(ROOT, "Pulumi.yaml")));
    writeFileSync(
      join(dir, "Pulumi.bad.yaml"),
      readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8") +
        "  agent-fleet:agents:\n    python: { maxReplicas: ten }\n    pythn: { enabled: false }\n",
    );
    const out = join(dir, "out");
    const result = await render(["--stack", "bad", "--out", out, "--dir", dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Pulumi.bad.yaml has 2 config errors:");
    expect(result.stderr).toContain("Pulumi.bad.yaml: agent-fleet:agents.pythn: unknown agent");
    expect(result.stderr).toContain(
      'Pulumi.bad.yaml: agent-fleet:agents.python.maxReplicas = "ten": expected a whole number >= 1',
    );
    expect(existsSync(out)).toBe(false);
  }, 300_000); // spawns the CLI: a limit against a hang on a loaded machine, not a measure of speed

  it("a failed render leaves the previous output untouched", async () => {
    const dir = mkdtempSync(join(scratch, "keep-"));
    writeFileSync(join(dir, "Pulumi.yaml"), readFileSync(join(ROOT, "Pulumi.yaml")));
    const stackFile = join(dir, "Pulumi.dev.yaml");
    writeFileSync(stackFile, readFileSync(join(ROOT, "Pulumi.dev.yaml")));
    const out = join(dir, "out");
    expect((await render(["--stack", "dev", "--out", out, "--dir", dir])).code).toBe(0);
    const before = tree(out);
    writeFileSync(stackFile, readFileSync(stackFile, "utf8") + "  agent-fleet:bogus: 1\n");
    expect((await render(["--stack", "dev", "--out", out, "--dir", dir])).code).toBe(1);
    expect(tree(out)).toEqual(before);
  }, 300_000); // spawns the CLI: a limit against a hang on a loaded machine, not a measure of speed
});

describe("render --out never deletes what render did not write", () => {
  const object = (file: string): RenderedObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    name: file,
    file,
    manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: file } },
  });
  const result = (...files: string[]) => ({ objects: files.map(object), others: [] });
  const folder = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(scratch, "out-"));
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    return dir;
  };

  it("refuses a non-empty folder that is not an earlier render, naming its files; deletes nothing", () => {
    const dir = folder({ "package.json": "{}", "src/main.ts": "x" });
    const before = tree(dir);
    expect(() => writeRender(result("a/b.yaml"), dir)).toThrow(RenderOutError);
    expect(() => writeRender(result("a/b.yaml"), dir)).toThrow(
      `render: will not write into ${dir}: it is not empty and not an earlier render (it has no .agent-fleet-render file), ` +
        "and render replaces its whole output folder. It holds package.json, src/main.ts. Give a new or empty folder " +
        "for --out (the default is .render/<stack>), or move those files away.",
    );
    expect(tree(dir)).toEqual(before);
    expect(readdirSync(scratch).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("writes a marker listing its files, and on re-render replaces exactly those", () => {
    const dir = join(mkdtempSync(join(scratch, "out-")), "render");
    writeRender(result("ns/a.yaml", "ns/old.yaml"), dir);
    expect(readFileSync(join(dir, RENDER_MARKER), "utf8")).toMatch(/^# .*\nns\/a\.yaml\nns\/old\.yaml\n$/s);
    writeRender(result("ns/a.yaml", "_cluster/b.yaml"), dir);
    expect([...tree(dir).keys()]).toEqual([RENDER_MARKER, "_cluster/b.yaml", "ns/a.yaml"]);
    expect(readdirSync(dirname(dir))).toEqual(["render"]);
  });

  it("refuses an earlier render that holds a file of someone else's, naming it", () => {
    const dir = join(mkdtempSync(join(scratch, "out-")), "render");
    writeRender(result("ns/a.yaml"), dir);
    writeFileSync(join(dir, "ns", "notes.txt"), "mine");
    const before = tree(dir);
    expect(() => writeRender(result("ns/a.yaml"), dir)).toThrow(
      `render: will not replace ${dir}: it holds files the earlier render did not write: ns/notes.txt. ` +
        "Move them out of the folder, or give another --out.",
    );
    expect(tree(dir)).toEqual(before);
  });

  it("a marker cannot make render delete outside the folder", () => {
    const dir = folder({ [RENDER_MARKER]: "../victim.txt\n" });
    expect(() => writeRender(result("a.yaml"), dir)).toThrow(
      /lists paths outside the folder \(\.\.\/victim\.txt\)/,
    );
  });

  it("a failure while writing leaves the earlier render whole and no half-written folder", () => {
    const dir = join(mkdtempSync(join(scratch, "out-")), "render");
    writeRender(result("ns/a.yaml"), dir);
    const before = tree(dir);
    // "x.yaml" as a file, then as a folder: the second write fails half-way through the render.
    expect(() => writeRender(result("x.yaml", "x.yaml/y.yaml"), dir)).toThrow();
    expect(tree(dir)).toEqual(before);
    expect(readdirSync(dirname(dir))).toEqual(["render"]);
  });

  it("the CLI refuses --out of a non-empty folder without a stack trace and writes nothing", async () => {
    const dir = folder({ "keep.txt": "precious" });
    const result = await render(["--stack", "dev", "--out", dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`render: will not write into ${dir}: it is not empty`);
    expect(result.stderr).toContain("It holds keep.txt.");
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(tree(dir)).toEqual(new Map([["keep.txt", "precious"]]));
  }, 300_000); // spawns the CLI: a limit against a hang on a loaded machine, not a measure of speed

  it("an unknown option prints it with the usage, exit 2, no stack trace", async () => {
    const result = await render(["--stack", "dev", "--outt", "x"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^render: Unknown option '--outt'/);
    expect(result.stderr).toContain("usage: npm run render -- --stack");
    expect(result.stderr).not.toMatch(/^\s+at /m);
  }, 300_000); // spawns the CLI: a limit against a hang on a loaded machine, not a measure of speed
});

describe("render details the API server depends on", () => {
  it("the hcloud-nfs volume points at the NFS Service's cluster IP (a stand-in under mocks)", async () => {
    const r = await renderStackConfig("staging");
    const pv = byName(r, "PersistentVolume", "agent-fleet-models") as Manifest & {
      spec: { nfs: { server: string } };
    };
    expect(pv.spec.nfs.server).toMatch(/^10\.96\.\d+\.\d+$/);
  });

  it("Secrets: keys only by default; the mocks' stand-in values only when asked", async () => {
    const redacted = byName(await renderStackConfig("staging"), "Secret", "registry-credentials");
    expect(redacted.stringData).toEqual({ ".dockerconfigjson": "<redacted>" });
    const standIns = await renderConfig(stackConfig("staging"), "staging", "stand-ins");
    const secret = byName(standIns, "Secret", "registry-credentials") as Manifest & {
      stringData: Record<string, string>;
    };
    const config = JSON.parse(secret.stringData[".dockerconfigjson"] ?? "") as {
      auths: Record<string, { auth: string }>;
    };
    // user:password, the password being the stand-in for the never-decrypted `secure:` value.
    const auth = Buffer.from(config.auths["ghcr.io"]?.auth ?? "", "base64").toString();
    expect(auth).toMatch(/^agent-fleet-ci:.+$/);
  });
});
