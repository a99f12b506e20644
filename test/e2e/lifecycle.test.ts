/**
 * The e2e stack (Pulumi.e2e.yaml) through a whole lifecycle against a real Kubernetes control
 * plane built from Go modules: preview (with the policy pack) → up → checks through the API →
 * preview again with no changes → a scaling-matrix edit that changes exactly one HPA → destroy,
 * leaving nothing behind.
 *
 * The Pulumi engine pieces (CLI >= 3.270.0, the Node.js language host, the pulumi-kubernetes
 * provider) cannot be built here: the module proxy refuses them (test/e2e/README.md names the
 * modules and versions; `test/e2e/toolchain.sh probe` asks again). So the program is evaluated by
 * the same render step the mock tests use, and each engine step is played by its server-side
 * counterpart — the same server-side apply requests, field manager and dry-runs the Kubernetes
 * provider sends. Everything below the program is real: API server validation (strict field
 * validation, OpenAPI schemas, defaulting), Pod Security admission, and the controllers acting on
 * what was applied.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseDocument } from "yaml";
import { AGENT_TYPES } from "../../agent-runtime/src/catalog";
import { renderStack, type RenderResult, type RenderedObject } from "../../infra/render/render";
import {
  ensureToolchain,
  startControlPlane,
  stopControlPlane,
  type ControlPlane,
} from "./support/control-plane";
import { Kubectl, changes, destroy, liveRef, preview, refOf, up, type LiveObject } from "./support/kubectl";
import { runPolicyPack } from "./support/policy";

const ROOT = join(__dirname, "../..");
const NAMESPACE = "agent-fleet";
const CRDS = join(__dirname, "fixtures/istio-networking-crds.yaml");
/** The agent whose scaling the edit step changes, and its new ceiling. */
const EDITED = { agent: "coordinator", maxReplicas: 4 } as const;

const timings: [string, number][] = [];
function timed<T>(step: string, fn: () => T): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    timings.push([step, performance.now() - start]);
  }
}

let cp: ControlPlane | undefined;
let kubectl: Kubectl;
let stackDir: string;
let rendered: RenderResult;

/** Copies Pulumi.e2e.yaml into `stackDir`, pointed at this control plane, with optional edits. */
function writeStack(edit?: (doc: ReturnType<typeof parseDocument>) => void): string {
  const file = join(stackDir, "Pulumi.e2e.yaml");
  copyFileSync(join(ROOT, "Pulumi.e2e.yaml"), file);
  const doc = parseDocument(readFileSync(file, "utf8"));
  doc.setIn(["config", "agent-fleet:cluster", "kubeconfig"], cp?.kubeconfig);
  edit?.(doc);
  writeFileSync(file, doc.toString());
  return file;
}

async function renderTimed(step: string, file: string): Promise<RenderResult> {
  const start = performance.now();
  // Secrets as the mocks' stand-in values: the API server validates them (never the real ones).
  const result = await renderStack(file, "stand-ins");
  timings.push([step, performance.now() - start]);
  return result;
}

/** Every kind the stack renders, for one `kubectl get` of all of them. */
function kindsOf(objects: readonly RenderedObject[]): string {
  return [
    ...new Set(objects.map((o) => `${o.kind.toLowerCase()}.${o.apiVersion.split("/").reverse().join(".")}`)),
  ]
    .map((k) => k.replace(/\.v1$/, "")) // core kinds: "configmap.v1" -> "configmap"
    .join(",");
}

/**
 * What each object of the stack holds, minus what the server and controllers change on their own
 * (status, resourceVersion, managedFields, revision annotations, and the replicas of a workload
 * under an HPA, which belong to the HPA): equal snapshots mean the object was not changed by an apply.
 */
function snapshot(objects: readonly RenderedObject[]): Map<string, string> {
  const wanted = new Set(objects.map(refOf));
  const live = [
    ...kubectl.list(kindsOf(objects.filter((o) => o.namespace)), NAMESPACE),
    ...objects.filter((o) => !o.namespace).flatMap((o) => kubectl.get(o.kind, o.name) ?? []),
  ];
  const hpaTargets = new Set(
    objects.flatMap((o) => {
      const target = (o.manifest.spec as { scaleTargetRef?: { kind: string; name: string } } | undefined)
        ?.scaleTargetRef;
      return o.kind === "HorizontalPodAutoscaler" && target
        ? [refOf({ kind: target.kind, namespace: o.namespace, name: target.name })]
        : [];
    }),
  );
  const out = new Map<string, string>();
  for (const o of live) {
    const ref = liveRef(o);
    if (!wanted.has(ref)) continue;
    const { status: _s, metadata, ...rest } = o;
    const spec = rest.spec as Record<string, unknown> | undefined;
    if (spec && hpaTargets.has(ref)) delete spec.replicas;
    const {
      resourceVersion: _rv,
      managedFields: _mf,
      generation: _g,
      annotations,
      ...meta
    } = metadata as Record<string, unknown> & { annotations?: Record<string, string> };
    const { "deployment.kubernetes.io/revision": _rev, ...keptAnnotations } = annotations ?? {};
    out.set(ref, JSON.stringify({ ...rest, metadata: { ...meta, annotations: keptAnnotations } }));
  }
  return out;
}

/** Whether the workload's pod is this one: its selector's labels, or a Job's `job-name` label. */
function selects(workload: RenderedObject, pod: LiveObject): boolean {
  if (workload.kind === "Job") return pod.metadata.labels?.["job-name"] === workload.name;
  const spec = workload.manifest.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined;
  const wanted = Object.entries(spec?.selector?.matchLabels ?? {});
  return wanted.length > 0 && wanted.every(([k, v]) => pod.metadata.labels?.[k] === v);
}

/** Polls (vitest's waitFor) until `check` stops throwing: at most 90 s, once a second. */
const POLL = { timeout: 90_000, interval: 1_000 };

beforeAll(async () => {
  const binDir = timed("toolchain (build or cache)", ensureToolchain);
  cp = timed("control plane start", () => startControlPlane(binDir));
  kubectl = new Kubectl(cp);
  stackDir = mkdtempSync(join(tmpdir(), "agent-fleet-e2e-stack-"));
  // The stack's custom resources need their CRDs; Istio itself is not installed (no chart repo).
  kubectl.ok(["apply", "--server-side", "--field-manager=agent-fleet-e2e", "-f", CRDS]);
  kubectl.ok(["wait", "--for=condition=Established", "--timeout=60s", "-f", CRDS]);
  rendered = await renderTimed("render (program under mocks)", writeStack());
}, 30 * 60_000);

afterAll(() => {
  if (cp) {
    if (process.env.E2E_KEEP_CLUSTER === "1") {
      console.log(`e2e: control plane kept running: KUBECONFIG=${cp.kubeconfig}`);
    } else {
      stopControlPlane(cp);
    }
  }
  if (stackDir) rmSync(stackDir, { recursive: true, force: true });
  const width = Math.max(...timings.map(([s]) => s.length));
  console.log(
    [
      "e2e step timings:",
      ...timings.map(([s, ms]) => `  ${s.padEnd(width)}  ${(ms / 1000).toFixed(1)} s`),
    ].join("\n"),
  );
});

describe("the e2e stack against a real API server", () => {
  it("preview: every object passes the API server (or its schema) and the policy pack; nothing is created", async () => {
    const result = timed("preview", () => preview(kubectl, rendered.objects));
    expect(result.objects.map(liveRef).sort()).toEqual(rendered.objects.map(refOf).sort());
    // Only the Namespace can be dry-run by the server before it exists; the rest is schema-checked.
    expect(result.serverChecked).toBeGreaterThanOrEqual(1);
    expect(kubectl.namespaceExists(NAMESPACE)).toBe(false);
    const started = performance.now();
    const pack = await runPolicyPack(rendered, result.objects);
    timings.push(["policy pack", performance.now() - started]);
    expect([...pack.resourceViolations, ...pack.stackViolations]).toEqual([]);
    expect(pack.evaluations).toBeGreaterThan(rendered.objects.length * 5);
  });

  it("up: creates the namespace, the 12 agents, their HPAs, the NetworkPolicies, the router and Redis", async () => {
    const stored = timed("up", () => up(kubectl, rendered.objects));
    expect(stored).toHaveLength(rendered.objects.length);

    const ns = kubectl.get("namespace", NAMESPACE);
    expect(ns?.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");

    const byRef = new Map(
      kubectl
        .list(kindsOf(rendered.objects.filter((o) => o.namespace)), NAMESPACE)
        .map((o) => [liveRef(o), o]),
    );
    const spec = (o: LiveObject | undefined) => (o as { spec?: Record<string, unknown> } | undefined)?.spec;
    for (const agent of AGENT_TYPES) {
      const workload = rendered.objects.find(
        (o) => (o.kind === "Deployment" || o.kind === "StatefulSet") && o.name === `agent-${agent}`,
      );
      expect(workload, `agent-${agent} workload rendered`).toBeDefined();
      expect(byRef.has(refOf(workload as RenderedObject)), `${agent} workload stored`).toBe(true);

      const hpa = spec(byRef.get(`HorizontalPodAutoscaler ${NAMESPACE}/agent-${agent}`));
      const want = rendered.config.agents[agent];
      expect(hpa, `${agent} HPA`).toMatchObject({
        minReplicas: want.minReplicas,
        maxReplicas: want.maxReplicas,
        scaleTargetRef: { kind: (workload as RenderedObject).kind, name: `agent-${agent}` },
      });
      expect(hpa?.metrics).toContainEqual({
        type: "External",
        external: {
          metric: { name: "agent_queue_backlog", selector: { matchLabels: { agent_type: agent } } },
          target: { type: "AverageValue", averageValue: String(want.backlogPerPod) },
        },
      });
    }

    const policies = [...byRef.values()].filter((o) => o.kind === "NetworkPolicy");
    expect(policies.map((o) => o.metadata.name).sort()).toEqual(
      rendered.objects
        .filter((o) => o.kind === "NetworkPolicy")
        .map((o) => o.name)
        .sort(),
    );
    expect(spec(byRef.get(`NetworkPolicy ${NAMESPACE}/default-deny`))).toEqual({
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
    });
    for (const ref of ["Deployment", "Service"].map((k) => `${k} ${NAMESPACE}/task-router`)) {
      expect(byRef.has(ref), ref).toBe(true);
    }
    for (const ref of ["StatefulSet", "Service"].map((k) => `${k} ${NAMESPACE}/redis`)) {
      expect(byRef.has(ref), ref).toBe(true);
    }
  });

  it("up: the controllers create every workload's pods, and Pod Security admission (restricted) admits them", async () => {
    const workloads = rendered.objects.filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind));
    expect(workloads.filter((o) => o.kind === "Job").map((o) => o.name)).toEqual([
      expect.stringMatching(/^model-loader-/),
    ]);
    const pending = await vi.waitFor(() => {
      const pods = kubectl.list("pods", NAMESPACE);
      const missing = workloads.filter((w) => !pods.some((p) => selects(w, p))).map((w) => w.name);
      expect(missing, "workloads without a pod yet").toEqual([]);
      return pods;
    }, POLL);
    // No kubelet: the pods are stored (admitted) but never scheduled or started.
    expect(pending.length).toBeGreaterThanOrEqual(workloads.length);
    const rejected = kubectl
      .list("events", NAMESPACE)
      .map((e) => e as LiveObject & { reason?: string; message?: string })
      .filter((e) => e.reason === "FailedCreate");
    expect(rejected.map((e) => e.message)).toEqual([]);
  });

  it("preview after up: no changes", () => {
    expect(timed("preview (no changes)", () => changes(kubectl, rendered.objects))).toEqual([]);
    const again = preview(kubectl, rendered.objects);
    expect(again.serverChecked).toBe(rendered.objects.length);
  });

  it("strict validation: a misspelled field in a built-in kind or an Istio resource is rejected", () => {
    const misspell = (kind: string, name: string, edit: (spec: Record<string, unknown>) => void) =>
      rendered.objects.flatMap((o) => {
        if (o.kind !== kind || o.name !== name) return [];
        const manifest = structuredClone(o.manifest);
        edit(manifest.spec as Record<string, unknown>);
        return [{ ...o, manifest }];
      });
    const deployment = misspell("Deployment", "task-router", (spec) => {
      (spec.template as { spec: Record<string, unknown> }).spec.securityContex = { runAsNonRoot: true };
    });
    const rule = misspell("DestinationRule", "agent-python", (spec) => {
      (spec.trafficPolicy as Record<string, unknown>).outlierDetections = {};
    });
    expect(deployment).toHaveLength(1);
    expect(rule).toHaveLength(1);
    expect(() => preview(kubectl, deployment)).toThrow(
      /\.spec\.template\.spec\.securityContex: field not declared in schema/,
    );
    expect(() => preview(kubectl, rule)).toThrow(
      /\.spec\.trafficPolicy\.outlierDetections: field not declared in schema/,
    );
  });

  it(`a scaling-matrix edit (${EDITED.agent} maxReplicas → ${EDITED.maxReplicas}) changes only that HPA`, async () => {
    const edited = await renderTimed(
      "render (edited matrix)",
      writeStack((doc) =>
        doc.setIn(["config", "agent-fleet:agents", EDITED.agent, "maxReplicas"], EDITED.maxReplicas),
      ),
    );
    const hpaRef = `HorizontalPodAutoscaler ${NAMESPACE}/agent-${EDITED.agent}`;
    expect(timed("preview (edited)", () => changes(kubectl, edited.objects))).toEqual([hpaRef]);

    // The HPA controller owns the replicas of its target: python's HPA raises it to minReplicas (2)
    // from the 1 the API server defaults it to. An apply must not take that back.
    const python = () =>
      (kubectl.get("statefulset", "agent-python", NAMESPACE) as { spec?: { replicas?: number } } | undefined)
        ?.spec?.replicas;
    const minReplicas = rendered.config.agents.python.minReplicas;
    await vi.waitFor(() => expect(python(), "agent-python replicas set by its HPA").toBe(minReplicas), POLL);

    const before = snapshot(rendered.objects);
    timed("up (edited)", () => up(kubectl, edited.objects));
    expect(python()).toBe(minReplicas);
    const after = snapshot(edited.objects);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    expect([...after].filter(([ref, json]) => before.get(ref) !== json).map(([ref]) => ref)).toEqual([
      hpaRef,
    ]);
    const hpa = kubectl.get("hpa", `agent-${EDITED.agent}`, NAMESPACE) as { spec?: { maxReplicas?: number } };
    expect(hpa.spec?.maxReplicas).toBe(EDITED.maxReplicas);
    expect(changes(kubectl, edited.objects)).toEqual([]);
    rendered = edited;
  });

  it("destroy: deletes everything and leaves nothing behind", () => {
    timed("destroy", () => destroy(kubectl, rendered.objects));
    expect(kubectl.namespaceExists(NAMESPACE)).toBe(false);
    const leftovers = kubectl
      .listAll(
        "all,configmaps,secrets,serviceaccounts,networkpolicies,persistentvolumeclaims,poddisruptionbudgets",
      )
      .filter(
        (o) =>
          o.metadata.namespace === NAMESPACE ||
          o.metadata.labels?.["app.kubernetes.io/part-of"] === "agent-fleet",
      );
    expect(leftovers.map(liveRef)).toEqual([]);
  });
});

describe("the dev, staging and prod stacks", () => {
  // Their clusters are not this one, but their Kubernetes objects are what `pulumi preview` sends
  // to a real API server in PR checks: each must pass a server-side dry-run with strict validation.
  const stacks = ["dev", "staging", "prod"] as const;
  let renders: RenderResult[];

  beforeAll(async () => {
    renders = [];
    for (const stack of stacks)
      renders.push(await renderTimed(`render ${stack}`, join(ROOT, `Pulumi.${stack}.yaml`)));
    // A dry-run needs its namespace to exist: create every namespace the stacks use (once).
    const namespaces = new Set(
      renders.flatMap((r) => r.objects.flatMap((o) => (o.namespace ? [o.namespace] : []))),
    );
    for (const ns of namespaces) {
      if (!kubectl.namespaceExists(ns)) kubectl.ok(["create", "namespace", ns]);
    }
  });

  it.each(stacks.map((stack, i) => [stack, i] as const))(
    "%s: every object passes a server-side dry-run",
    (stack, i) => {
      const r = renders[i] as RenderResult;
      const result = timed(`preview ${stack} (server dry-run)`, () => preview(kubectl, r.objects));
      expect(result.serverChecked).toBe(r.objects.length);
      expect(result.objects.map(liveRef).sort()).toEqual(r.objects.map(refOf).sort());
    },
  );
});
