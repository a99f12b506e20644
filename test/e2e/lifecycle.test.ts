/**
 * The e2e stack (Pulumi.e2e.yaml) through a whole lifecycle with the real Pulumi engine against a
 * real Kubernetes control plane, all built from Go modules (toolchain.sh): the Pulumi CLI and the
 * Kubernetes provider drive an Automation API inline program that runs the same `deployStack()`
 * as `infra/program/main.ts`, with the policy pack attached to preview and up. Steps: preview → up →
 * checks through the API → preview with no changes → refresh without drift → a scaling-matrix
 * edit that changes exactly one HPA → an immutable field that forces a replacement → secrets never
 * in plain text → a policy violation that fails preview → destroy, leaving nothing behind.
 *
 * Real: the engine's plan, diff and state, the provider's server-side apply and await logic, the
 * policy pack as an analyzer plugin, API server validation and Pod Security admission, and the
 * controllers. Stand-ins: the random provider (test/e2e/random-standin: the proxy does not serve
 * pulumi-random) and Istio's CRDs (fixtures/). There is no kubelet: pods are stored, never started,
 * so the suite's transform sets `pulumi.com/skipAwait` on the kinds only a kubelet makes ready.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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
import { buildPolicyPack } from "../support/policy-pack";
import { standInStackFile } from "../support/stand-ins";
import { EngineError, EngineStack, type OperationReport } from "./support/engine";
import { Kubectl, dryRun, liveRef, refOf, type LiveObject } from "./support/kubectl";
import { StepTimings } from "./support/timings";

const ROOT = join(__dirname, "../..");
const NAMESPACE = "agent-fleet";
/** The agent whose scaling the edit step changes, and its new ceiling. */
const EDITED = { agent: "coordinator", maxReplicas: 4 } as const;
/** A loader image other than Pulumi.e2e.yaml's (pinned by digest; nothing pulls it here). */
const NEW_LOADER_IMAGE =
  "docker.io/curlimages/curl:8.12.1@sha256:94e9e444bcba979c2ea12e27ae39bee4cd10bc7041a472c4727a558e213744e6";
/** The API key the suite sets as a secret: it must never appear in plain text anywhere. */
const API_KEY = `sk-ant-e2e-${Math.random().toString(36).slice(2)}-not-a-real-key`;

const timings = new StepTimings();
const timed = <T>(step: string, fn: () => T | Promise<T>): Promise<T> => timings.timed(step, fn);

let cp: ControlPlane | undefined;
let kubectl: Kubectl;
let workDir: string;
let engine: EngineStack;
let rendered: RenderResult;
let created: OperationReport;

/** Pulumi.e2e.yaml pointed at this control plane, without its stand-in ciphertext (set below). */
function stackFileText(): string {
  const doc = parseDocument(readFileSync(join(ROOT, "Pulumi.e2e.yaml"), "utf8"));
  doc.setIn(["config", "agent-fleet:cluster", "kubeconfig"], cp?.kubeconfig);
  doc.deleteIn(["config", "agent-fleet:anthropicApiKey"]);
  return doc.toString();
}

/** Every kind the stack renders, for one `kubectl get` of all of them. */
function kindsOf(objects: readonly RenderedObject[]): string {
  return [
    ...new Set(objects.map((o) => `${o.kind.toLowerCase()}.${o.apiVersion.split("/").reverse().join(".")}`)),
  ]
    .map((k) => k.replace(/\.v1$/, "")) // core kinds: "configmap.v1" -> "configmap"
    .join(",");
}

/** The namespaced objects live, read per namespace (the fleet's, and monitoring's alerts and dashboards). */
function listLive(objects: readonly RenderedObject[]): LiveObject[] {
  const byNamespace = new Map<string, RenderedObject[]>();
  for (const o of objects) {
    if (o.namespace) byNamespace.set(o.namespace, [...(byNamespace.get(o.namespace) ?? []), o]);
  }
  return [...byNamespace].flatMap(([namespace, objs]) => kubectl.list(kindsOf(objs), namespace));
}

/**
 * What each object of the stack holds, minus what the server and controllers change on their own
 * (status, resourceVersion, managedFields, revision annotations, and the replicas of a workload
 * under an HPA, which belong to the HPA): equal snapshots mean the object was not changed by an apply.
 */
function snapshot(objects: readonly RenderedObject[]): Map<string, string> {
  const wanted = new Set(objects.map(refOf));
  const live = [
    ...listLive(objects),
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

/** "Kind namespace/name" of each Kubernetes resource the stack has created, by URN. */
const refsByUrn = new Map<string, string>();

/** The Kubernetes object a step acts on, "Kind namespace/name", or its URN for anything else. */
function stepRef(step: OperationReport["steps"][number]): string {
  return refsByUrn.get(step.urn) ?? step.urn;
}

/**
 * The steps that change something, as "op ref": not "same", and not a refresh that found the
 * resource as recorded (a refresh step without a diff).
 */
function changed(report: OperationReport): string[] {
  return report.steps
    .filter((s) => s.op !== "same" && !(s.op === "refresh" && (s.diffs ?? []).length === 0))
    .map((s) => `${s.op} ${stepRef(s)}`);
}

const isK8sObject = (type: string) => type.startsWith("kubernetes:") && !type.startsWith("pulumi:");
const isDefaultProvider = (urn: string) => /::pulumi:providers:\w+::default(_[\w_]+)?$/.test(urn);

/** Polls (vitest's waitFor) until `check` stops throwing: at most 90 s, once a second. */
const POLL = { timeout: 90_000, interval: 1_000 };

/** The replicas the HPA controller sets on python (its minReplicas), read from the API. */
const pythonReplicas = () =>
  (kubectl.get("statefulset", "agent-python", NAMESPACE) as { spec?: { replicas?: number } } | undefined)
    ?.spec?.replicas;

beforeAll(async () => {
  const tools = await timed("toolchain (build or cache)", ensureToolchain);
  cp = await timed("control plane start", () => startControlPlane(tools.binDir));
  kubectl = new Kubectl(cp);
  // The stack's custom resources need their CRDs; Istio itself is not installed (no chart repo).
  // Istio's own CRDs (from the source istioctl is built from), cert-manager's and the Prometheus
  // Operator's: the stacks' objects meet their schemas. None of them runs.
  for (const crds of [tools.istioCrds, tools.certManagerCrds, tools.prometheusOperatorCrds]) {
    kubectl.ok(["apply", "--server-side", "--field-manager=agent-fleet-e2e", "-f", crds]);
    kubectl.ok(["wait", "--for=condition=Established", "--timeout=60s", "-f", crds]);
  }
  // The pack runs from its compiled JavaScript (policy/README.md).
  await timed("policy pack build", buildPolicyPack);
  workDir = mkdtempSync(join(tmpdir(), "agent-fleet-e2e-engine-"));
  engine = await timed("engine: stack init", () =>
    EngineStack.create(tools, workDir, "e2e", stackFileText()),
  );
  await engine.stack.setConfig("agent-fleet:anthropicApiKey", { value: API_KEY, secret: true });
  // The program under mocks: the objects the engine should create, for cross-checks.
  const mocked = join(workDir, "Pulumi.e2e.yaml");
  rendered = await timed("render (program under mocks)", () => renderStack(mocked, "stand-ins"));
}, 60 * 60_000);

afterAll(() => {
  if (cp) {
    if (process.env.E2E_KEEP_CLUSTER === "1") {
      console.log(`e2e: control plane kept running: KUBECONFIG=${cp.kubeconfig}; engine workdir ${workDir}`);
    } else {
      stopControlPlane(cp);
    }
  }
  if (workDir && process.env.E2E_KEEP_CLUSTER !== "1") rmSync(workDir, { recursive: true, force: true });
  console.log(timings.report("e2e step timings:"));
});

describe("the e2e stack through the Pulumi engine", () => {
  it("preview: creates only, one step per resource of the program, the policy pack passes; nothing exists yet", async () => {
    const report = await timed("engine: preview", () => engine.preview());
    const ops = new Set(report.steps.map((s) => s.op));
    expect([...ops]).toEqual(["create"]);
    // Every resource the program registered, plus the stack and the default providers it implies
    // (the random provider; the Kubernetes provider is the program's own, from ExistingCluster).
    const defaults = report.steps.filter((s) => isDefaultProvider(s.urn)).length;
    expect(defaults).toBe(1);
    expect(report.steps.length).toBe(report.registered + 1 + defaults);
    // The engine's summary counts everything but default providers.
    expect(report.changes).toEqual({ create: report.steps.length - defaults });
    // The Kubernetes objects are exactly the ones the program renders under mocks.
    expect(report.steps.filter((s) => isK8sObject(s.type)).length).toBe(rendered.objects.length);
    expect(report.policies).toEqual([]);
    expect(kubectl.namespaceExists(NAMESPACE)).toBe(false);
  });

  it("up (policy pack attached): creates the namespace, the 12 agents, their HPAs, the NetworkPolicies, the router and Redis", async () => {
    created = await timed("engine: up", () => engine.up());
    expect(new Set(created.steps.map((s) => s.op))).toEqual(new Set(["create"]));
    expect(created.policies).toEqual([]);
    const state = engine.stateAtRest();
    expect(state.resources).toHaveLength(created.steps.length);
    for (const r of state.resources) {
      const kind = /^kubernetes:[\w.-]+\/v\w+:(\w+)$/.exec(r.type)?.[1];
      const meta = r.inputs?.metadata;
      if (kind && meta?.name)
        refsByUrn.set(r.urn, refOf({ kind, namespace: meta.namespace, name: meta.name }));
    }
    expect(refsByUrn.size).toBe(rendered.objects.length);
    expect(state.resources.filter((r) => isK8sObject(r.type))).toHaveLength(rendered.objects.length);

    const ns = kubectl.get("namespace", NAMESPACE);
    expect(ns?.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");

    const byRef = new Map(listLive(rendered.objects).map((o) => [liveRef(o), o]));
    // Everything rendered is stored (controllers add their own: the default ServiceAccount, Redis' claim).
    expect([...byRef.keys()]).toEqual(
      expect.arrayContaining(rendered.objects.filter((o) => o.namespace).map(refOf)),
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

  it("preview after up: no changes (--expect-no-changes)", async () => {
    const report = await timed("engine: preview (no changes)", () =>
      engine.preview({ expectNoChanges: true }),
    );
    expect(changed(report)).toEqual([]);
  });

  it("refresh: no drift, while the HPA controller has set python's replicas", async () => {
    const minReplicas = rendered.config.agents.python.minReplicas;
    // The API server defaulted replicas to 1; python's HPA raises it to its minReplicas (2).
    await vi.waitFor(
      () => expect(pythonReplicas(), "agent-python replicas set by its HPA").toBe(minReplicas),
      POLL,
    );
    const report = await timed("engine: refresh", () => engine.refresh({ expectNoChanges: true }));
    expect(changed(report)).toEqual([]);
    expect(Object.keys(report.changes)).toEqual(["same"]);
    expect(pythonReplicas()).toBe(minReplicas);
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
    expect(() => dryRun(kubectl, deployment)).toThrow(
      /\.spec\.template\.spec\.securityContex: field not declared in schema/,
    );
    expect(() => dryRun(kubectl, rule)).toThrow(
      /\.spec\.trafficPolicy\.outlierDetections: field not declared in schema/,
    );
  });

  it(`a scaling-matrix edit (pulumi config set --path …${EDITED.agent}.maxReplicas ${EDITED.maxReplicas}) changes only that HPA and the backlog alert's ceiling`, async () => {
    await engine.stack.setConfig(
      `agent-fleet:agents.${EDITED.agent}.maxReplicas`,
      { value: String(EDITED.maxReplicas) },
      true,
    );
    const hpaRef = `HorizontalPodAutoscaler ${NAMESPACE}/agent-${EDITED.agent}`;
    // The alert rules' ConfigMap holds the agent's backlog ceiling (backlogPerPod x maxReplicas);
    // the provider replaces a ConfigMap whose data changes (its default: ConfigMaps immutable).
    const rulesRef = refOf(
      rendered.objects.find(
        (o) => o.kind === "ConfigMap" && o.name === "agent-fleet-alerts",
      ) as RenderedObject,
    );
    const expected = [
      `update ${hpaRef}`,
      `delete-replaced ${rulesRef}`,
      `replace ${rulesRef}`,
      `create-replacement ${rulesRef}`,
    ].sort();
    const plan = await timed("engine: preview (edited)", () => engine.preview());
    expect(changed(plan).sort()).toEqual(expected);
    const step = plan.steps.find((s) => s.op === "update");
    expect(step?.type).toBe("kubernetes:autoscaling/v2:HorizontalPodAutoscaler");
    expect(Object.keys(step?.detailedDiff ?? {})).toEqual(["spec.maxReplicas"]);

    const minReplicas = rendered.config.agents.python.minReplicas;
    const before = snapshot(rendered.objects);
    const applied = await timed("engine: up (edited)", () => engine.up());
    expect(changed(applied).sort()).toEqual(expected);
    // The replicas the HPA controller set survive the apply: the program does not own them.
    expect(pythonReplicas()).toBe(minReplicas);
    const after = snapshot(rendered.objects);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    expect(
      [...after]
        .filter(([ref, json]) => before.get(ref) !== json)
        .map(([ref]) => ref)
        .sort(),
    ).toEqual([hpaRef, rulesRef].sort());
    const hpa = kubectl.get("hpa", `agent-${EDITED.agent}`, NAMESPACE) as { spec?: { maxReplicas?: number } };
    expect(hpa.spec?.maxReplicas).toBe(EDITED.maxReplicas);
    expect(changed(await engine.preview({ expectNoChanges: true }))).toEqual([]);
  });

  it("a change to an immutable field (the model loader's image: a Job's pod template) plans a replacement", async () => {
    const key = ["config", "agent-fleet:models", "loaderImage"];
    let image: unknown;
    engine.editStackFile((doc) => {
      image = doc.getIn(key);
      doc.setIn(key, NEW_LOADER_IMAGE);
    });
    try {
      const plan = await timed("engine: preview (immutable change)", () => engine.preview());
      const job = rendered.objects.find((o) => o.kind === "Job");
      expect(job).toBeDefined();
      const ref = refOf(job as RenderedObject);
      // A Job's template cannot be updated: the provider plans delete-before-replace (fixed name).
      expect(changed(plan).sort()).toEqual([
        `create-replacement ${ref}`,
        `delete-replaced ${ref}`,
        `replace ${ref}`,
      ]);
      const replace = plan.steps.find((s) => s.op === "replace");
      expect(Object.keys(replace?.detailedDiff ?? {})).toContain("spec.template.spec.containers[0].image");
    } finally {
      engine.editStackFile((doc) => doc.setIn(key, image));
    }
    expect(changed(await engine.preview({ expectNoChanges: true }))).toEqual([]);
  });

  it("known limit of pulumi-kubernetes 4.25.0: a change to Redis' volume size fails preview with the API server's reason", async () => {
    // A StatefulSet's volumeClaimTemplates are immutable and the provider previews the replacement
    // as an update (fixed upstream after 4.25.0: pulumi/pulumi-kubernetes#4328). The runbook
    // (docs/operations.md, "Resizing Redis' volume") gives the procedure; this test says when a
    // provider upgrade makes it unnecessary.
    const key = ["config", "agent-fleet:queue", "storage", "size"];
    let size: unknown;
    engine.editStackFile((doc) => {
      size = doc.getIn(key);
      doc.setIn(key, "2Gi");
    });
    try {
      const failure = await engine.preview().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(EngineError);
      expect((failure as EngineError).output).toMatch(
        /StatefulSet\.apps "redis" is invalid: spec: Forbidden: updates to statefulset spec for fields other than/,
      );
    } finally {
      engine.editStackFile((doc) => doc.setIn(key, size));
    }
  });

  it("secrets (the API key, the generated Redis password and router token) never appear in plain text in state or engine output", () => {
    const secretData = (name: string) => {
      const s = kubectl.get("secret", name, NAMESPACE) as { data?: Record<string, string> } | undefined;
      expect(s, `Secret ${name}`).toBeDefined();
      return Object.values(s?.data ?? {}).map((b64) => Buffer.from(b64, "base64").toString("utf8"));
    };
    const secretNames = rendered.objects.filter((o) => o.kind === "Secret").map((o) => o.name);
    const values = secretNames.flatMap(secretData).filter((v) => v.length >= 12);
    expect(values).toContain(API_KEY);
    expect(values.length).toBeGreaterThanOrEqual(3); // API key, Redis password, router token
    const forms = values.flatMap((v) => [v, Buffer.from(v).toString("base64")]);
    const leaks = (text: string) => forms.some((f) => text.includes(f));

    // At rest: every one is a ciphertext of the passphrase provider.
    const state = engine.stateAtRest();
    expect(leaks(state.text)).toBe(false);
    expect(state.text).toContain('"ciphertext"');

    // What the CLI printed and every engine event of every operation so far. The Node.js SDK's
    // own RPC tracing (debug-severity diagnostics, which the CLI shows or stores only with
    // --debug) echoes resolved outputs; those are counted apart (test/e2e/README.md).
    const shown = engine.transcript.filter((t) => !t.source.endsWith("debug event"));
    expect(shown.length).toBeGreaterThan(10);
    expect(shown.filter((t) => leaks(t.text)).map((t) => t.source)).toEqual([]);
  });

  it("a policy violation (a :latest canary image, image pinning made mandatory) fails preview with the policy's message", async () => {
    const canary = ["config", "agent-fleet:mesh", "istio", "canary", "image"];
    let image: unknown;
    engine.editStackFile((doc) => {
      image = doc.getIn(canary);
      doc.setIn(canary, "ghcr.io/agent-fleet/agent-python:latest");
    });
    try {
      const failure = await timed("engine: preview (policy violation)", () =>
        engine.preview({ policyPackConfig: { "workload-image-pinned": { enforcementLevel: "mandatory" } } }),
      ).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(EngineError);
      const { report, output } = failure as EngineError;
      const violations = report.policies.filter((p) => p.enforcementLevel === "mandatory");
      expect(violations.map((p) => p.policyName)).toEqual(["workload-image-pinned"]);
      expect(violations[0]?.message).toMatch(
        /image "ghcr\.io\/agent-fleet\/agent-python:latest" uses the :latest tag/,
      );
      expect(output).toMatch(/workload-image-pinned/);
    } finally {
      engine.editStackFile((doc) => doc.setIn(canary, image));
    }
    expect(changed(await engine.preview({ expectNoChanges: true }))).toEqual([]);
  });

  it("destroy: deletes everything, awaits the namespace's removal, and leaves an empty stack", async () => {
    const report = await timed("engine: destroy", () => engine.destroy());
    expect(report.changes.delete).toBe(created.steps.filter((s) => !isDefaultProvider(s.urn)).length);
    // Awaited: gone when destroy returns, so an immediate `pulumi up` can create it again.
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
    expect(engine.stateAtRest().resources).toEqual([]);
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
      renders.push(
        await timed(`render ${stack}`, () =>
          renderStack(standInStackFile(join(ROOT, `Pulumi.${stack}.yaml`)), "stand-ins"),
        ),
      );
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
      const start = performance.now();
      const result = dryRun(kubectl, r.objects);
      timings.record(`${stack}: server dry-run`, performance.now() - start);
      expect(result.serverChecked).toBe(r.objects.length);
      expect(result.objects.map(liveRef).sort()).toEqual(r.objects.map(refOf).sort());
    },
  );
});
