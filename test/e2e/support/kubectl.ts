/**
 * kubectl (built by toolchain.sh) against the e2e control plane: reads through the API, and a
 * server-side dry-run of rendered objects with strict field validation (what the dev, staging and
 * prod stacks' objects must pass).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { z } from "zod";
import { manifestYaml, type RenderedObject } from "../../../infra/render/render";
import type { ControlPlane } from "./control-plane";

/** The field manager of the dry-runs (the engine applies under the provider's own). */
export const FIELD_MANAGER = "agent-fleet-e2e";

export interface KubectlResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** A live object as the API server returns it (the fields the suite reads). */
export const liveObject = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.looseObject({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    generation: z.number().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
});
export type LiveObject = z.infer<typeof liveObject>;
const liveList = z.object({ items: z.array(liveObject) });

/** "Kind namespace/name" (or "Kind name" for cluster-scoped objects). */
export function refOf(o: { kind: string; namespace?: string | undefined; name: string }): string {
  return o.namespace ? `${o.kind} ${o.namespace}/${o.name}` : `${o.kind} ${o.name}`;
}

export function liveRef(o: LiveObject): string {
  return refOf({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });
}

/** The objects as one multi-document YAML stream, in the given order. */
export function manifestStream(objects: readonly RenderedObject[]): string {
  return objects.map((o) => manifestYaml(o.manifest)).join("---\n");
}

export class Kubectl {
  constructor(private readonly cp: ControlPlane) {}

  run(args: string[], input?: string): KubectlResult {
    const r = spawnSync(join(this.cp.binDir, "kubectl"), ["--kubeconfig", this.cp.kubeconfig, ...args], {
      input,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      timeout: 180_000,
    });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Runs kubectl and fails with its stderr unless it exits 0. */
  ok(args: string[], input?: string): string {
    const r = this.run(args, input);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
    return r.stdout;
  }

  /** `kubectl get -o json` of a list; [] when the resource type has no objects. */
  list(resource: string, namespace?: string): LiveObject[] {
    const args = ["get", resource, "-o", "json", ...(namespace ? ["-n", namespace] : [])];
    return liveList.parse(JSON.parse(this.ok(args))).items;
  }

  /** `kubectl get -A -o json`: the objects of every namespace. */
  listAll(resource: string): LiveObject[] {
    return liveList.parse(JSON.parse(this.ok(["get", resource, "-A", "-o", "json"]))).items;
  }

  /** One object, or undefined when the server answers NotFound. */
  get(resource: string, name: string, namespace?: string): LiveObject | undefined {
    const r = this.run(["get", resource, name, "-o", "json", ...(namespace ? ["-n", namespace] : [])]);
    if (r.status !== 0) {
      if (/NotFound|not found/.test(r.stderr)) return undefined;
      throw new Error(`kubectl get ${resource} ${name} exited ${r.status}:\n${r.stderr}`);
    }
    return liveObject.parse(JSON.parse(r.stdout));
  }

  namespaceExists(name: string): boolean {
    return this.get("namespace", name) !== undefined;
  }
}

const APPLY = ["apply", "--server-side", `--field-manager=${FIELD_MANAGER}`, "--validate=strict"];

function items(stdout: string): LiveObject[] {
  const parsed: unknown = JSON.parse(stdout);
  const list = liveList.safeParse(parsed);
  return list.success ? list.data.items : [liveObject.parse(parsed)];
}

export interface DryRunResult {
  /** What the API server would store (server dry-run), or the validated object (client dry-run). */
  objects: LiveObject[];
  /** Objects checked by the API server itself (server-side dry-run: schema, defaulting, admission). */
  serverChecked: number;
  /**
   * Objects in namespaces that do not exist yet: the API server cannot dry-run those (it answers
   * NotFound for the namespace), so they are validated against the server's OpenAPI schema instead,
   * as the Pulumi Kubernetes provider does in the same situation.
   */
  schemaChecked: number;
}

/** A dry-run of the objects: nothing in the cluster changes. */
export function dryRun(kubectl: Kubectl, objects: readonly RenderedObject[]): DryRunResult {
  const missing = new Set(
    [...new Set(objects.flatMap((o) => (o.namespace ? [o.namespace] : [])))].filter(
      (ns) => !kubectl.namespaceExists(ns),
    ),
  );
  const server = objects.filter((o) => !o.namespace || !missing.has(o.namespace));
  const client = objects.filter((o) => o.namespace !== undefined && missing.has(o.namespace));
  const out: LiveObject[] = [];
  if (server.length > 0) {
    out.push(
      ...items(kubectl.ok([...APPLY, "--dry-run=server", "-o", "json", "-f", "-"], manifestStream(server))),
    );
  }
  if (client.length > 0) {
    // Client-side dry-run with strict validation checks each object against the OpenAPI schema the
    // API server publishes (built-in kinds and the CRDs' structural schemas).
    const validate = ["apply", "--validate=strict", "--dry-run=client", "-o", "json", "-f", "-"];
    out.push(...items(kubectl.ok(validate, manifestStream(client))));
  }
  return { objects: out, serverChecked: server.length, schemaChecked: client.length };
}
