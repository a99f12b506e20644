/**
 * The staging and prod stack files ship two values a user must set, and preview refuses until they
 * do: the model file's published sha256 (all zeros) and the router's public host (a reserved
 * example domain). Tests that render those stacks put stand-ins there — values that pass
 * validation and are plainly not real — and the tests that check the refusal read the files as
 * they are.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { parseDocument } from "yaml";

export const STAND_IN_SHA256 = createHash("sha256").update("agent-fleet test stand-in model").digest("hex");
export const STAND_IN_HOST = "router.agent-fleet-stand-in.dev";

const ZEROS = /^0{64}$/;
const RESERVED = /(^|\.)(example\.(com|net|org)|invalid|test|localhost)$/;

type Values = Record<string, unknown>;
const isRecord = (v: unknown): v is Values => typeof v === "object" && v !== null && !Array.isArray(v);

/** Replaces the placeholders in a stack's `agent-fleet:*` values (keys without the namespace). */
export function withStandIns(values: Values): void {
  const models = values.models;
  if (isRecord(models) && Array.isArray(models.files)) {
    for (const file of models.files) {
      if (isRecord(file) && typeof file.sha256 === "string" && ZEROS.test(file.sha256)) {
        file.sha256 = STAND_IN_SHA256;
      }
    }
  }
  const istio = isRecord(values.mesh) ? values.mesh.istio : undefined;
  const ingress = isRecord(istio) ? istio.ingress : undefined;
  if (isRecord(ingress) && typeof ingress.host === "string" && RESERVED.test(ingress.host)) {
    ingress.host = STAND_IN_HOST;
  }
}

/** A copy of a stack file with the stand-ins in place, in a new temporary folder (same file name). */
export function standInStackFile(path: string): string {
  const doc = parseDocument(readFileSync(path, "utf8"));
  const config = doc.get("config") as { toJSON(): unknown } | undefined;
  const values: Values = {};
  const all = config && isRecord(config.toJSON()) ? (config.toJSON() as Values) : {};
  for (const [key, value] of Object.entries(all)) {
    if (key.startsWith("agent-fleet:")) values[key.slice("agent-fleet:".length)] = value;
  }
  withStandIns(values);
  for (const [key, value] of Object.entries(values)) doc.setIn(["config", `agent-fleet:${key}`], value);
  const out = join(mkdtempSync(join(tmpdir(), "agent-fleet-stand-in-")), basename(path));
  writeFileSync(out, doc.toString());
  return out;
}
