/**
 * The mesh under Pod Security `restricted`, proven against the real admission chain: every pod
 * template of the rendered staging and prod stacks is injected by Istio's own injector (istioctl,
 * built from Istio's sources) with the settings the stack installs, and created as a Pod with a
 * server-side dry-run in a namespace labelled exactly like the fleet's, so Pod Security admission
 * judges the injected pod. All must be admitted. The negative control injects the same pods as a
 * cluster without Istio's CNI node agent would (an istio-init container with NET_ADMIN and
 * NET_RAW) and requires admission to reject every one, in its own words.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { istioInstall } from "../../infra/components/fleet/agent-fleet";
import { fleetIstio } from "../../infra/program/deploy";
import { renderStack, type RenderResult } from "../../infra/render/render";
import { standInStackFile } from "../support/stand-ins";
import {
  ensureToolchain,
  startControlPlane,
  stopControlPlane,
  type ControlPlane,
} from "./support/control-plane";
import { Kubectl } from "./support/kubectl";
import { injector, podsOf } from "./support/mesh";

const ROOT = join(__dirname, "../..");
const STACKS = ["staging", "prod"] as const;

let cp: ControlPlane | undefined;
let kubectl: Kubectl;
let istioctl: string;
const renders = new Map<string, RenderResult>();

beforeAll(async () => {
  const tools = ensureToolchain();
  istioctl = join(tools.binDir, "istioctl");
  cp = startControlPlane(tools.binDir);
  kubectl = new Kubectl(cp);
  for (const stack of STACKS) {
    const r = await renderStack(standInStackFile(join(ROOT, `Pulumi.${stack}.yaml`)), "stand-ins");
    renders.set(stack, r);
    // A namespace labelled exactly like the fleet's: Pod Security `restricted`, injection on.
    const fleet = r.objects.find((o) => o.kind === "Namespace" && o.name === r.config.namespace);
    const labels = (fleet?.manifest.metadata as { labels: Record<string, string> }).labels;
    expect(labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "istio-injection": "enabled",
    });
    const namespace = `mesh-${stack}`;
    kubectl.ok(
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels } }),
    );
    // The pods run as the stack's ServiceAccounts; admission looks them up.
    const accounts = r.objects
      .filter((o) => o.kind === "ServiceAccount" && o.namespace === r.config.namespace)
      .map((o) => ({ ...o.manifest, metadata: { name: o.name, namespace } }));
    kubectl.ok(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: accounts }));
  }
}, 60 * 60_000);

afterAll(() => {
  if (cp) stopControlPlane(cp);
});

type Container = { name: string; securityContext?: { capabilities?: { add?: string[] } } };
const containersOf = (pod: Record<string, unknown>) => {
  const spec = pod.spec as { containers: Container[]; initContainers?: Container[] };
  return { containers: spec.containers, init: spec.initContainers ?? [] };
};

/** A server-side dry-run create of the pods: what admission says of each. */
function admit(pods: readonly Record<string, unknown>[]) {
  const r = kubectl.run(
    ["create", "--dry-run=server", "-o", "name", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items: pods }),
  );
  return { status: r.status, admitted: r.stdout.trim().split("\n").filter(Boolean), errors: r.stderr };
}

describe.each(STACKS)("%s: injected pods under Pod Security restricted", (stack) => {
  const install = () => istioInstall(fleetIstio((renders.get(stack) as RenderResult).config));
  const pods = () => podsOf((renders.get(stack) as RenderResult).objects, "agent-fleet", `mesh-${stack}`);

  it("with Istio's CNI node agent (as the stack installs it): every workload's pod is admitted", () => {
    const inject = injector(istioctl, install());
    try {
      const originals = pods();
      expect(originals.length).toBeGreaterThanOrEqual(15); // 12 agents, the canary (prod), router, Redis, loader
      const injected = inject.inject(originals);
      expect(injected).toHaveLength(originals.length);
      for (const pod of injected) {
        const { containers, init } = containersOf(pod);
        const names = [...init, ...containers].map((c) => c.name);
        expect(names, JSON.stringify(names)).toContain("istio-proxy");
        expect(names).toContain("istio-validation");
        expect(names).not.toContain("istio-init");
      }
      const result = admit(injected);
      expect(result.errors).toBe("");
      expect(result.status).toBe(0);
      expect(result.admitted.sort()).toEqual(
        injected.map((p) => `pod/${(p.metadata as { name: string }).name}`).sort(),
      );
    } finally {
      inject.dispose();
    }
  });

  it("negative control, without the CNI node agent: admission rejects every pod, naming istio-init's capabilities", () => {
    const inject = injector(istioctl, install(), { cni: false });
    try {
      const injected = inject.inject(pods());
      for (const pod of injected) {
        const init = containersOf(pod).init.find((c) => c.name === "istio-init");
        expect(init?.securityContext?.capabilities?.add).toEqual(
          expect.arrayContaining(["NET_ADMIN", "NET_RAW"]),
        );
      }
      const result = admit(injected);
      expect(result.status).not.toBe(0);
      expect(result.admitted).toEqual([]);
      for (const pod of injected) {
        const name = (pod.metadata as { name: string }).name;
        expect(result.errors).toMatch(
          new RegExp(
            `pods "${name}" is forbidden: violates PodSecurity "restricted:latest": .*container "istio-init" must not include "NET_ADMIN", "NET_RAW" in securityContext\\.capabilities\\.add`,
          ),
        );
      }
    } finally {
      inject.dispose();
    }
  });
});
