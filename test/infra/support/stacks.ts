/** Test helpers: render a stack (or an edited copy) under recording mocks and query its objects. */
import { join } from "node:path";
import { readStackFile } from "../../../infra/config/load";
import { resolveStackConfig, type FleetConfig } from "../../../infra/config/resolve";
import { renderConfig, type RenderedObject, type RenderResult } from "../../../infra/render/render";
import { withStandIns } from "../../support/stand-ins";

export const ROOT = join(__dirname, "..", "..", "..");

/**
 * A stack's resolved config, with `edit` applied. The placeholders staging and prod ship (which
 * preview refuses) hold test stand-ins unless `asShipped` (test/support/stand-ins.ts).
 */
export function stackConfig(
  stack: string,
  edit?: (values: Record<string, unknown>) => void,
  { asShipped = false }: { asShipped?: boolean } = {},
): FleetConfig {
  const raw = readStackFile(join(ROOT, `Pulumi.${stack}.yaml`));
  const values = structuredClone(raw.values) as Record<string, unknown>;
  if (!asShipped) withStandIns(values);
  edit?.(values);
  return resolveStackConfig({ ...raw, values });
}

export function renderStackConfig(
  stack: string,
  edit?: (values: Record<string, unknown>) => void,
): Promise<RenderResult> {
  return renderConfig(stackConfig(stack, edit), stack);
}

export type Manifest = Record<string, unknown> & {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
};

export function manifests(result: RenderResult, kind: string): Manifest[] {
  return result.objects.filter((o: RenderedObject) => o.kind === kind).map((o) => o.manifest as Manifest);
}

export function byName(result: RenderResult, kind: string, name: string): Manifest {
  const found = manifests(result, kind).find((m) => m.metadata.name === name);
  if (!found)
    throw new Error(
      `no ${kind} named ${name}; have ${manifests(result, kind)
        .map((m) => m.metadata.name)
        .join(", ")}`,
    );
  return found;
}

export interface PodSpec {
  securityContext?: Record<string, unknown>;
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }[];
  nodeSelector?: Record<string, string>;
  tolerations?: Record<string, unknown>[];
  terminationGracePeriodSeconds?: number;
}

export interface Container {
  name: string;
  image: string;
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  args?: string[];
}

/** The pod spec of a Deployment, StatefulSet or Job manifest. */
export function podSpec(m: Manifest): PodSpec {
  const template = (m.spec as { template: { spec: PodSpec } }).template;
  return template.spec;
}

/** Every workload manifest that carries pods. */
export function workloads(result: RenderResult): Manifest[] {
  return ["Deployment", "StatefulSet", "Job", "DaemonSet"].flatMap((k) => manifests(result, k));
}
