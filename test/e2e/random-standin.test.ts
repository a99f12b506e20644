/**
 * The random stand-in provider (test/e2e/random-standin) against the real @pulumi/random SDK the
 * program compiles with: every resource and property it implements exists in that SDK with the
 * same type, requiredness and secrecy, under the same token and plugin version; and every stack's
 * program uses nothing of @pulumi/random beyond what it implements. The schema checked is the one
 * the built binary serves over GetSchema (`pulumi package get-schema`), which must be the file it
 * embeds.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ts from "typescript";
import { z } from "zod";
import { renderStack } from "../../infra/render/render";
import { standInStackFile } from "../support/stand-ins";
import { ensureToolchain } from "./support/control-plane";

const ROOT = join(__dirname, "../..");
const SDK = join(ROOT, "node_modules/@pulumi/random");
const STANDIN = join(__dirname, "random-standin");

const property = z.object({
  type: z.enum(["string", "integer", "number", "boolean"]),
  secret: z.boolean().optional(),
});
const schemaOf = z.object({
  name: z.literal("random"),
  version: z.string(),
  resources: z.record(
    z.string(),
    z.object({
      inputProperties: z.record(z.string(), property),
      requiredInputs: z.array(z.string()),
      properties: z.record(z.string(), property),
      required: z.array(z.string()),
    }),
  ),
});
type Schema = z.infer<typeof schemaOf>;

/** A TypeScript type for a schema type. */
const TS_TYPE = { string: "string", integer: "number", number: "number", boolean: "boolean" } as const;

interface SdkMember {
  optional: boolean;
  /** The T of pulumi.Input<T> / pulumi.Output<T>, without `| undefined`. */
  type: string;
}

/** The members of an interface or class in an SDK declaration file, by name. */
function membersOf(file: string, name: string): Map<string, SdkMember> {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const members = new Map<string, SdkMember>();
  const visit = (node: ts.Node) => {
    if ((ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node)) && node.name?.text === name) {
      for (const m of node.members) {
        if (!(ts.isPropertySignature(m) || ts.isPropertyDeclaration(m)) || !m.type) continue;
        if (m.modifiers?.some((mod) => mod.kind === ts.SyntaxKind.StaticKeyword)) continue;
        const text = m.type.getText(source);
        const inner = /^pulumi\.(?:Input|Output)<(.*)>$/s.exec(text)?.[1] ?? text;
        members.set(m.name.getText(source), {
          optional: m.questionToken !== undefined,
          type: inner.replace(/\s*\|\s*undefined/g, "").trim(),
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (members.size === 0) throw new Error(`${file}: no ${name} with members`);
  return members;
}

let served: Schema;
let embedded: Schema;
let home: string;

beforeAll(() => {
  const { binDir, pluginsDir } = ensureToolchain();
  home = mkdtempSync(join(tmpdir(), "agent-fleet-standin-"));
  embedded = schemaOf.parse(JSON.parse(readFileSync(join(STANDIN, "schema.json"), "utf8")));
  const binary = join(pluginsDir, `resource-random-v${embedded.version}`, "pulumi-resource-random");
  const out = execFileSync(join(binDir, "pulumi"), ["package", "get-schema", binary], {
    encoding: "utf8",
    env: { ...process.env, PULUMI_HOME: home, PULUMI_SKIP_UPDATE_CHECK: "true" },
    maxBuffer: 16 * 1024 * 1024,
  });
  served = schemaOf.parse(JSON.parse(out));
}, 60 * 60_000);

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("the random stand-in provider", () => {
  it("serves the schema it embeds, under the plugin version the @pulumi/random SDK asks for", () => {
    expect(served).toEqual(embedded);
    const pkg = z
      .object({ version: z.string(), pulumi: z.object({ name: z.literal("random"), version: z.string() }) })
      .parse(JSON.parse(readFileSync(join(SDK, "package.json"), "utf8")));
    expect(served.version).toBe(pkg.pulumi.version);
    expect(served.version).toBe(pkg.version);
  });

  it("implements only tokens the SDK has, with the same property names, types and requiredness", () => {
    const tokens = Object.keys(served.resources);
    expect(tokens).toEqual(["random:index/randomPassword:RandomPassword"]);
    const js = readFileSync(join(SDK, "randomPassword.js"), "utf8");
    expect(js).toContain(`__pulumiType = '${tokens[0]}'`);

    const resource = served.resources["random:index/randomPassword:RandomPassword"];
    if (!resource) throw new Error("unreachable: token checked above");
    const args = membersOf(join(SDK, "randomPassword.d.ts"), "RandomPasswordArgs");
    for (const [name, p] of Object.entries(resource.inputProperties)) {
      expect(args.get(name), `input ${name}`).toEqual({
        optional: !resource.requiredInputs.includes(name),
        type: TS_TYPE[p.type],
      });
    }
    // Every input the SDK requires, the stand-in requires too.
    const sdkRequired = [...args].filter(([, m]) => !m.optional).map(([n]) => n);
    expect([...resource.requiredInputs].sort()).toEqual(sdkRequired.sort());

    const outputs = membersOf(join(SDK, "randomPassword.d.ts"), "RandomPassword");
    for (const [name, p] of Object.entries(resource.properties)) {
      expect(outputs.get(name), `output ${name}`).toEqual({ optional: false, type: TS_TYPE[p.type] });
    }
    // Secret outputs: the SDK marks them with additionalSecretOutputs; the schema says the same.
    const sdkSecret = /additionalSecretOutputs: \[([^\]]*)\]/.exec(js)?.[1] ?? "";
    for (const [name, p] of Object.entries(resource.properties)) {
      expect(sdkSecret.includes(`"${name}"`), `output ${name} secret in the SDK`).toBe(p.secret === true);
    }
  });

  it("covers everything the program uses of @pulumi/random, in every stack", async () => {
    const resource = served.resources["random:index/randomPassword:RandomPassword"];
    const implemented = new Set(Object.keys(resource?.inputProperties ?? {}));
    const used = new Map<string, Set<string>>();
    for (const stack of ["dev", "staging", "prod", "e2e"]) {
      const { resources } = await renderStack(standInStackFile(join(ROOT, `Pulumi.${stack}.yaml`)));
      for (const r of resources.filter((x) => x.type.startsWith("random:"))) {
        const keys = used.get(r.type) ?? new Set<string>();
        for (const key of Object.keys(r.inputs)) keys.add(key);
        used.set(r.type, keys);
      }
    }
    expect([...used.keys()]).toEqual(["random:index/randomPassword:RandomPassword"]);
    const keys = [...(used.get("random:index/randomPassword:RandomPassword") ?? [])];
    expect(keys.filter((k) => !implemented.has(k))).toEqual([]);
  });
});
