/**
 * Offline render: evaluates the program for one stack file under Pulumi runtime mocks (no Pulumi
 * CLI, no cloud, no cluster) and turns the recorded Kubernetes resources into manifests.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { readStackFile } from "../config/load";
import { resolveStackConfig, type FleetConfig } from "../config/resolve";
import { assertCapacity } from "../cost/capacity";
import { deployFleet } from "../program/deploy";
import { installMocks, type RecordedResource } from "./mocks";
import { markerText, previousRender, RENDER_MARKER, replaceRender } from "./out-dir";

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** Path relative to the output folder: `<namespace|_cluster>/<kind>-<name>.yaml`. */
  file: string;
  manifest: Record<string, unknown>;
}

export interface RenderResult {
  stack: string;
  config: FleetConfig;
  /** Every registered resource, in registration order. */
  resources: RecordedResource[];
  /** Kubernetes objects, sorted by kind rank, namespace and name. */
  objects: RenderedObject[];
  /** Resources that are not plain Kubernetes objects (cloud, Helm releases, random, images). */
  others: RecordedResource[];
}

/** Apply order: what others depend on first. Unknown kinds sort after these, by name. */
const KIND_ORDER = [
  "Namespace",
  "CustomResourceDefinition",
  "StorageClass",
  "PriorityClass",
  "ServiceAccount",
  "Role",
  "ClusterRole",
  "RoleBinding",
  "ClusterRoleBinding",
  "Secret",
  "ConfigMap",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "Job",
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "Service",
  "HorizontalPodAutoscaler",
  "PodDisruptionBudget",
  "NetworkPolicy",
];

const K8S_TYPE = /^kubernetes:([\w.-]+)\/(v[\w]+):(\w+)$/;

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * What a rendered Secret holds. `redacted` (the default, and all `npm run render` ever writes):
 * keys only. `stand-ins`: the values the program produced under the mocks, which are stand-ins
 * themselves (generated passwords are mock values, `secure:` config is never decrypted): for
 * sending a stack's objects to a throwaway API server, whose validation needs well-formed values
 * (a `.dockerconfigjson` must be JSON).
 */
export type SecretValues = "redacted" | "stand-ins";

function toObject(r: RecordedResource, secrets: SecretValues = "redacted"): RenderedObject | undefined {
  const match = K8S_TYPE.exec(r.type);
  if (!match || r.type.startsWith("kubernetes:helm.sh/")) return undefined;
  const [, group, version, kind] = match as unknown as [string, string, string, string];
  const apiVersion = group === "core" ? version : `${group}/${version}`;
  const { apiVersion: _a, kind: _k, metadata, ...rest } = r.redacted;
  const meta = asRecord(metadata);
  const name = typeof meta.name === "string" ? meta.name : r.name;
  const namespace = typeof meta.namespace === "string" ? meta.namespace : undefined;
  const manifest: Record<string, unknown> = { apiVersion, kind, metadata: { ...meta, name }, ...rest };
  if (kind === "Secret" && secrets === "stand-ins") {
    for (const field of ["data", "stringData"]) {
      if (r.inputs[field] !== undefined) manifest[field] = r.inputs[field];
    }
  } else if (kind === "Secret") {
    // Keys stay visible for review; values never leave the program (secret or not).
    for (const field of ["data", "stringData"]) {
      const values = asRecord(r.inputs[field]);
      if (Object.keys(values).length > 0) {
        manifest[field] = Object.fromEntries(Object.keys(values).map((k) => [k, "<redacted>"]));
      }
    }
  }
  const file = `${namespace ?? "_cluster"}/${kind.toLowerCase()}-${name}.yaml`;
  return { apiVersion, kind, name, file, manifest, ...(namespace !== undefined ? { namespace } : {}) };
}

function kindRank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i === -1 ? KIND_ORDER.length : i;
}

export function sortObjects(objects: RenderedObject[]): RenderedObject[] {
  return [...objects].sort(
    (a, b) =>
      kindRank(a.kind) - kindRank(b.kind) ||
      a.kind.localeCompare(b.kind) ||
      (a.namespace ?? "").localeCompare(b.namespace ?? "") ||
      a.name.localeCompare(b.name),
  );
}

/**
 * Renders the stack file at `stackFilePath`. Throws StackConfigError (before any resource is
 * created) when the config is invalid.
 */
export async function renderStack(stackFilePath: string, secrets?: SecretValues): Promise<RenderResult> {
  const raw = readStackFile(stackFilePath);
  const config = resolveStackConfig(raw);
  return renderConfig(config, raw.file.replace(/^Pulumi\.(.+)\.yaml$/, "$1"), secrets);
}

/** Evaluates the program for an already-resolved config under fresh recording mocks. */
export async function renderConfig(
  config: FleetConfig,
  stack: string,
  secrets: SecretValues = "redacted",
): Promise<RenderResult> {
  // The same capacity gate as `pulumi preview`: fail before anything is evaluated.
  assertCapacity(config);
  const mocks = await installMocks(stack);
  // runInPulumiStack waits until every registration the program started has finished.
  await pulumi.runtime.runInPulumiStack(async () => {
    const out = deployFleet(config);
    return { namespace: out.namespace, workloads: out.workloads };
  });
  await pulumi.runtime.disconnect();
  const objects = sortObjects(
    mocks.resources.map((r) => toObject(r, secrets)).filter((o): o is RenderedObject => o !== undefined),
  );
  const others = mocks.resources.filter(
    (r) => r.custom && toObject(r) === undefined && !r.type.startsWith("pulumi:"),
  );
  return { stack, config, resources: mocks.resources, objects, others };
}

/**
 * One document as YAML that means the same to every Kubernetes tool. kubectl and client-go read
 * YAML 1.1, where unquoted `yes`, `on`, `y` or `0777` are not strings, so strings like those are
 * written quoted (Redis' `--appendonly yes` would otherwise reach the API server as a boolean).
 */
export function manifestYaml(doc: unknown): string {
  return stringify(doc, { version: "1.1", sortMapEntries: false, lineWidth: 0 });
}

function otherFile(r: RecordedResource): string {
  return `_pulumi/${r.type.replace(/[^\w.-]+/g, "_")}-${r.name}.yaml`;
}

/**
 * Writes one YAML file per object into `outDir`, with a marker listing them (out-dir.ts). `outDir`
 * must be new, empty or an earlier render holding nothing else (RenderOutError otherwise). The
 * files go to a temporary folder beside it first, the marker last, and the folder is swapped in
 * whole: a failure leaves the previous render untouched, never half of a new one.
 */
export function writeRender(result: Pick<RenderResult, "objects" | "others">, outDir: string): RenderWritten {
  const target = resolve(outDir);
  const previous = previousRender(target);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = mkdtempSync(`${target}.tmp-`);
  const files: string[] = [];
  const write = (file: string, doc: unknown) => {
    mkdirSync(dirname(join(tmp, file)), { recursive: true });
    writeFileSync(join(tmp, file), manifestYaml(doc));
    files.push(file);
  };
  try {
    for (const o of result.objects) write(o.file, o.manifest);
    for (const r of [...result.others].sort((a, b) => otherFile(a).localeCompare(otherFile(b)))) {
      write(otherFile(r), { type: r.type, name: r.name, inputs: r.redacted });
    }
    writeFileSync(join(tmp, RENDER_MARKER), markerText(files));
    const leftOver = replaceRender(tmp, target, previous);
    return { files, ...(leftOver ? { leftOver } : {}) };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

export interface RenderWritten {
  /** The files written, relative to the output folder (the marker not included). */
  files: string[];
  /** A folder holding what appeared in the earlier render's folder while rendering (kept, not deleted). */
  leftOver?: string;
}
