/**
 * Istio's sidecar injection, offline, with the injector built from Istio's own sources
 * (toolchain.sh: istioctl): the injection template, values and mesh config come from rendering
 * the istiod chart istioctl embeds (`istioctl manifest generate`) with exactly the settings the
 * stack installs (infra: injectionSettings), then `istioctl kube-inject` injects pods as istiod's
 * webhook would.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { injectionSettings, type IstioInstall } from "../../../infra/components/fleet/mesh";
import type { RenderedObject } from "../../../infra/render/render";

type Doc = { kind?: string; metadata?: { name?: string }; data?: Record<string, string> };

export interface Injector {
  /** Injects every pod; returns them in the same order. */
  inject(pods: readonly object[]): Record<string, unknown>[];
  dispose(): void;
}

function run(istioctl: string, args: string[], input?: string): string {
  return execFileSync(istioctl, args, {
    encoding: "utf8",
    input,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
    env: { ...process.env, HOME: tmpdir() },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/**
 * An injector for an Istio install as FleetMesh makes it. `cni: false` is the negative control:
 * the same settings with the CNI node agent off, as a cluster without it would inject.
 */
export function injector(istioctl: string, install: IstioInstall, { cni = true } = {}): Injector {
  const dir = mkdtempSync(join(tmpdir(), "agent-fleet-inject-"));
  const { meshConfig, values } = injectionSettings(install);
  const pilot = { ...(values.pilot as Record<string, unknown>), cni: { enabled: cni } };
  const operator = {
    apiVersion: "install.istio.io/v1alpha1",
    kind: "IstioOperator",
    spec: { meshConfig, values: { ...values, pilot }, components: { cni: { enabled: cni } } },
  };
  writeFileSync(join(dir, "operator.yaml"), stringify(operator));
  const rendered = parseAllDocuments(
    run(istioctl, ["manifest", "generate", "-f", join(dir, "operator.yaml")]),
  )
    .map((d) => d.toJSON() as Doc | null)
    .filter((d): d is Doc => d !== null);
  const configMap = (name: string) => {
    const found = rendered.find((d) => d.kind === "ConfigMap" && d.metadata?.name === name);
    if (!found?.data) throw new Error(`istioctl manifest generate rendered no ConfigMap ${name}`);
    return found.data;
  };
  const sidecar = configMap("istio-sidecar-injector");
  const mesh = configMap("istio").mesh;
  if (!sidecar.config || !sidecar.values || !mesh)
    throw new Error("injector ConfigMaps lack config/values/mesh");
  writeFileSync(join(dir, "inject-config.yaml"), sidecar.config);
  writeFileSync(join(dir, "values.json"), sidecar.values);
  writeFileSync(join(dir, "mesh.yaml"), mesh);

  return {
    inject(pods) {
      const file = join(dir, "pods.yaml");
      writeFileSync(file, pods.map((p) => stringify(p)).join("---\n"));
      const out = run(istioctl, [
        "kube-inject",
        // Named, so that istioctl does not look for a cluster to learn the default revision.
        "--revision",
        "default",
        "-f",
        file,
        "--injectConfigFile",
        join(dir, "inject-config.yaml"),
        "--valuesFile",
        join(dir, "values.json"),
        "--meshConfigFile",
        join(dir, "mesh.yaml"),
      ]);
      return parseAllDocuments(out)
        .map((d) => d.toJSON() as Record<string, unknown> | null)
        .filter((d): d is Record<string, unknown> => d !== null);
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Pod for each pod template of the rendered workloads in `namespace`, placed in `into`. */
export function podsOf(
  objects: readonly RenderedObject[],
  namespace: string,
  into: string,
): Record<string, unknown>[] {
  return objects
    .filter((o) => o.namespace === namespace && ["Deployment", "StatefulSet", "Job"].includes(o.kind))
    .map((o) => {
      const spec = o.manifest.spec as {
        template: { metadata?: Record<string, unknown>; spec: { volumes?: object[] } };
        volumeClaimTemplates?: { metadata: { name: string } }[];
      };
      // A StatefulSet's controller adds a volume per claim template (claim <template>-<name>-<ordinal>).
      const claims = (spec.volumeClaimTemplates ?? []).map((t) => ({
        name: t.metadata.name,
        persistentVolumeClaim: { claimName: `${t.metadata.name}-${o.name}-0` },
      }));
      const template = spec.template;
      return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { ...template.metadata, name: `${o.kind.toLowerCase()}-${o.name}`, namespace: into },
        spec: {
          ...template.spec,
          ...(claims.length ? { volumes: [...(template.spec.volumes ?? []), ...claims] } : {}),
        },
      };
    });
}
