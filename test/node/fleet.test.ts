/**
 * The node stack (Pulumi.node.yaml) through the real Pulumi engine onto a single-node cluster whose
 * pods really run (node.sh: containerd 2, kubelet, kube-proxy, CoreDNS, built from Go modules), with
 * the fleet's images assembled from this checkout (images.ts) and pinned by digest. No skipAwait:
 * the provider waits for every Deployment, StatefulSet and Service as it does for users.
 *
 * Then behaviour on running pods, each proved with a ledger of submitted task ids (none lost, none
 * failed, no lease left): one task per agent type through the router, Redis and that agent's pod;
 * a worker pod deleted mid-task; a worker SIGKILLed inside its container mid-task; a scaling edit
 * (a new replica runs and takes tasks) and its reverse (the drain loses nothing); a rolling update
 * with tasks flowing; Redis restarted (its AOF keeps the queue, workers reconnect).
 *
 * Not covered here (test/node/README.md): NetworkPolicy enforcement, Istio, the HPA's External
 * metric, images built by BuildKit, and more than one node.
 */
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { AGENT_TYPES, taskTypesOf, type AgentType } from "../../agent-runtime/src/catalog";
import { ensureToolchain } from "../e2e/support/control-plane";
import { EngineStack, type OperationReport } from "../e2e/support/engine";
import { Kubectl, type LiveObject } from "../e2e/support/kubectl";
import { StepTimings } from "../e2e/support/timings";
import { buildPolicyPack } from "../support/policy-pack";
import { waitUntil } from "../runtime/support/wait";
import { REDIS_UID } from "../../infra/components/fleet/conventions";
import { assembleNodeImages, PAUSE_IMAGE_REF, REDIS_IMAGE_REF, type NodeImages } from "./images";
import { PortForward, inNode, nodeMemory, startNode, stopNode, type NodeCluster } from "./support/node";
import { Router } from "./support/router";

const ROOT = join(__dirname, "../..");
const NAMESPACE = "agent-fleet";
/** What the node and the engine need of toolchain.sh (not istioctl, Prometheus or the collector). */
const NODE_TOOLS = [
  "etcd",
  "kubernetes",
  "containerd",
  "coredns",
  "pulumi",
  "pulumi-kubernetes",
  "random-standin",
];

const timings = new StepTimings();
const timed = <T>(step: string, fn: () => T | Promise<T>): Promise<T> => timings.timed(step, fn);

let node: NodeCluster | undefined;
let kubectl: Kubectl;
let workDir: string;
let engine: EngineStack;
let images: NodeImages;
let forward: PortForward | undefined;
let router: Router;

/** Pulumi.node.yaml pointed at this node, its images pinned to the digests just assembled. */
function stackFileText(): string {
  const doc = parseDocument(readFileSync(join(ROOT, "Pulumi.node.yaml"), "utf8"));
  doc.setIn(["config", "agent-fleet:cluster", "kubeconfig"], node?.kubeconfig);
  const digests: Record<string, string> = {};
  for (const image of images.images)
    if (image.name !== "redis" && image.name !== "pause") digests[image.name] = image.digest;
  doc.setIn(["config", "agent-fleet:images", "digests"], digests);
  const redis = images.images.find((i) => i.name === "redis")!;
  doc.setIn(["config", "agent-fleet:queue", "image"], `${REDIS_IMAGE_REF}@${redis.digest}`);
  return doc.toString();
}

type Pod = LiveObject & {
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      containerID?: string;
      imageID?: string;
    }[];
  };
  metadata: LiveObject["metadata"] & { deletionTimestamp?: string; creationTimestamp?: string };
};

/** The fleet's pods that match a label selector, read from the API. */
function pods(selector: string): Pod[] {
  const out = kubectl.ok(["get", "pods", "-n", NAMESPACE, "-l", selector, "-o", "json"]);
  return (JSON.parse(out) as { items: Pod[] }).items;
}
const agentSelector = (agent: AgentType) => `agent-fleet.io/agent=${agent}`;
const isReady = (p: Pod) =>
  !p.metadata.deletionTimestamp &&
  p.status?.phase === "Running" &&
  (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** The pod's name from a worker id (`<hostname>-<pid>-<hex>`; the hostname is the pod's name). */
function podOfWorker(worker: string | undefined, candidates: Pod[]): string | undefined {
  return candidates.find((p) => worker?.startsWith(`${p.metadata.name}-`))?.metadata.name;
}

/** Waits until the agent has exactly `count` Ready pods (and no others); returns them. */
async function readyPods(agent: AgentType, count: number, timeoutMs = 180_000): Promise<Pod[]> {
  return waitUntil(
    () => {
      const all = pods(agentSelector(agent));
      const ready = all.filter(isReady);
      return ready.length === count && all.length === count ? ready : undefined;
    },
    { timeoutMs, intervalMs: 1_000, message: `${agent}: ${count} Ready pod(s) and no others` },
  );
}

/** Opens (or reopens, after the router pod moved) the port-forward to the router's Service. */
async function openRouter(): Promise<void> {
  await forward?.stop();
  forward = await PortForward.open(node!, NAMESPACE, "svc/task-router", 80);
}

/** Applies a stack-config edit through the engine, as `pulumi config set` + `pulumi up`. */
async function configEdit(
  step: string,
  edit: (doc: ReturnType<typeof parseDocument>) => void,
): Promise<OperationReport> {
  engine.editStackFile(edit);
  return timed(`engine: up (${step})`, () => engine.up());
}

beforeAll(async () => {
  const tools = await timed("toolchain (build or cache)", () => ensureToolchain(NODE_TOOLS));
  // The pack runs from its compiled JavaScript (policy/README.md); the images compile the runtime themselves.
  await timed("policy pack build", buildPolicyPack);
  images = await timed("images (assemble or cache)", () => assembleNodeImages());
  node = await timed("node start (control plane, containerd + image import, kubelet Ready)", () =>
    startNode(tools.binDir, images.archive, PAUSE_IMAGE_REF),
  );
  kubectl = new Kubectl(node);
  // Redis' claim: a StorageClass without a provisioner and one volume in the node's folder, owned by
  // Redis' uid (a hostPath volume is not chowned by fsGroup). The claim binds to it as on any
  // cluster whose volumes an administrator created.
  const volume = join(node.dir, "volumes", "redis-data");
  mkdirSync(volume, { recursive: true, mode: 0o770 });
  chownSync(volume, REDIS_UID, REDIS_UID);
  kubectl.ok(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "storage.k8s.io/v1",
          kind: "StorageClass",
          metadata: { name: "node-local" },
          provisioner: "kubernetes.io/no-provisioner",
          volumeBindingMode: "Immediate",
        },
        {
          apiVersion: "v1",
          kind: "PersistentVolume",
          metadata: { name: "node-redis-data" },
          spec: {
            storageClassName: "node-local",
            capacity: { storage: "1Gi" },
            accessModes: ["ReadWriteOnce"],
            persistentVolumeReclaimPolicy: "Retain",
            hostPath: { path: volume, type: "Directory" },
          },
        },
      ],
    }),
  );
  workDir = mkdtempSync(join(tmpdir(), "agent-fleet-node-engine-"));
  engine = await timed("engine: stack init", () =>
    EngineStack.create(tools, workDir, "node", stackFileText(), { kubelet: true }),
  );
}, 60 * 60_000);

afterAll(async () => {
  await forward?.stop();
  if (node) {
    if (process.env.NODE_KEEP_CLUSTER === "1") {
      console.log(
        `node: kept running: KUBECONFIG=${node.kubeconfig}; stop with test/node/node.sh stop ${node.dir}`,
      );
    } else {
      await timed("node stop (processes, cgroups, namespaces)", () => stopNode(node!));
    }
  }
  if (workDir && process.env.NODE_KEEP_CLUSTER !== "1") rmSync(workDir, { recursive: true, force: true });
  console.log(timings.report("node suite timings:"));
});

describe("the node stack on a node that runs its pods", () => {
  it("up, with every await on: each Deployment and StatefulSet Ready, the router answers, the 12 workers reach Redis by its Service name", async () => {
    const report = await timed("engine: up (first, awaits on)", () => engine.up());
    expect(new Set(report.steps.map((s) => s.op))).toEqual(new Set(["create"]));
    expect(report.policies).toEqual([]);

    for (const kind of ["deployments", "statefulsets"]) {
      for (const w of kubectl.list(kind, NAMESPACE) as (LiveObject & {
        spec?: { replicas?: number };
        status?: { readyReplicas?: number };
      })[]) {
        expect(w.status?.readyReplicas, `${kind} ${w.metadata.name} ready replicas`).toBe(w.spec?.replicas);
      }
    }
    const all = kubectl.list("pods", NAMESPACE) as Pod[];
    // How long each pod took from its creation to Ready (the API's own timestamps).
    const readySeconds = all
      .map((p) => {
        const ready = p.status?.conditions?.find((c) => c.type === "Ready")?.lastTransitionTime;
        return ready ? (Date.parse(ready) - Date.parse(p.metadata.creationTimestamp ?? "")) / 1000 : NaN;
      })
      .sort((a, b) => a - b);
    console.log(
      `node: pods created → Ready: min ${readySeconds[0]} s, median ${readySeconds[readySeconds.length >> 1]} s, max ${readySeconds[readySeconds.length - 1]} s`,
    );
    // 12 agents, the router and Redis, on this node, from the images assembled here (by digest).
    expect(all.filter(isReady)).toHaveLength(14);
    for (const p of all) {
      expect(p.spec?.nodeName).toBe(node!.nodeName);
      for (const c of p.status?.containerStatuses ?? []) expect(c.restartCount, `${p.metadata.name}`).toBe(0);
    }
    const token = Buffer.from(
      (kubectl.get("secret", "task-router-tokens", NAMESPACE) as { data?: Record<string, string> }).data
        ?.tokens ?? "",
      "base64",
    )
      .toString()
      .split("\n")[0]!
      .trim();
    await openRouter();
    router = new Router(() => `http://127.0.0.1:${forward!.port}`, token);
    // The router reads every agent's queue from Redis (reached as redis.agent-fleet.svc.cluster.local).
    const queues = await router.queues();
    expect(queues.map((q) => q.agent).sort()).toEqual([...AGENT_TYPES].sort());
    const memory = nodeMemory(node!);
    console.log(
      `node: memory after up: node cgroup (runtime, kubelet, proxy, DNS, 14 pods) ${memory.nodeCgroupMiB} MiB, control plane ${memory.controlPlaneMiB} MiB resident`,
    );
    // Without the token the router refuses.
    const anonymous = await fetch(`http://127.0.0.1:${forward!.port}/v1/queues`);
    expect(anonymous.status).toBe(401);
  });

  it("a task per agent type goes router → Redis → that agent's pod, and its result is read back", async () => {
    const started = performance.now();
    const submitted = await Promise.all(
      AGENT_TYPES.map(async (agent) => {
        const type = taskTypesOf(agent)[0]!;
        return { agent, id: await router.submit(type, `hello ${agent}`, agent) };
      }),
    );
    for (const { agent, id } of submitted) {
      const t = await router.final(id);
      expect(t.status, id).toBe("succeeded");
      expect(t.agent).toBe(agent);
      expect(podOfWorker(t.worker, pods(agentSelector(agent))), `${id} worker ${t.worker}`).toBeDefined();
      expect(JSON.stringify(t.result)).toContain(`hello ${agent}`);
    }
    timings.record("12 tasks end to end (submit → result read back)", performance.now() - started);
    // Per task, from the queue's own clocks: enqueued → claimed by the pod, and claimed → done.
    const records = await Promise.all(submitted.map(({ id }) => router.final(id)));
    const spread = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `min ${s[0]} ms, median ${s[s.length >> 1]} ms, max ${s[s.length - 1]} ms`;
    };
    console.log(
      `node: enqueued → claimed by the agent's pod: ${spread(records.map((t) => (t.startedAt ?? NaN) - (t.enqueuedAt ?? NaN)))}; ` +
        `claimed → succeeded (echo delay 1 s; 5 s for backend, 10 s for data): ${spread(records.map((t) => (t.finishedAt ?? NaN) - (t.startedAt ?? NaN)))}`,
    );
    await router.assertNothingLost();
  });

  it("a worker pod deleted mid-task: the drain finishes the task, nothing is lost, no lease is left", async () => {
    const agent: AgentType = "backend";
    const type = taskTypesOf(agent)[0]!;
    const ids = await Promise.all([1, 2, 3, 4].map((i) => router.submit(type, `delete ${i}`, "delete")));
    const running = await router.running(ids[0]!);
    const [victim] = pods(agentSelector(agent)).filter(isReady);
    expect(podOfWorker(running.worker, [victim!])).toBe(victim!.metadata.name);
    kubectl.ok(["-n", NAMESPACE, "delete", "pod", victim!.metadata.name, "--wait=false"]);
    for (const id of ids) expect((await router.final(id)).status).toBe("succeeded");
    // The task under the kill was finished by the draining pod itself, in its one delivery.
    const drained = await router.final(ids[0]!);
    expect([drained.worker, drained.deliveries]).toEqual([running.worker, 1]);
    const [replacement] = await timed("pod delete: until the replacement is Ready and the old pod gone", () =>
      readyPods(agent, 1),
    );
    expect(replacement!.metadata.name).not.toBe(victim!.metadata.name);
    await router.assertNothingLost();
  });

  it("a worker SIGKILLed inside its container mid-task: the lease expires, another delivery finishes it", async () => {
    const agent: AgentType = "data";
    const type = taskTypesOf(agent)[0]!;
    const [pod] = await readyPods(agent, 1);
    const id = await router.submit(type, "sigkill", "sigkill");
    await router.running(id);
    const containerId = pod!.status!.containerStatuses![0]!.containerID!.replace(/^containerd:\/\//, "");
    inNode(node!, [
      join(node!.binDir, "ctr"),
      "--address",
      node!.containerdAddress,
      "-n",
      "k8s.io",
      "tasks",
      "kill",
      "--signal",
      "SIGKILL",
      containerId,
    ]);
    const t = await router.final(id);
    expect(t.status).toBe("succeeded");
    expect(t.deliveries).toBeGreaterThanOrEqual(2);
    const [restarted] = await readyPods(agent, 1);
    expect(restarted!.metadata.name).toBe(pod!.metadata.name);
    expect(restarted!.status!.containerStatuses![0]!.restartCount).toBe(1);
    await router.assertNothingLost();
  });

  it("a scaling edit (minReplicas 1 → 2): a new replica runs and takes tasks; back to 1, the drain loses nothing", async () => {
    const agent: AgentType = "frontend";
    const type = taskTypesOf(agent)[0]!;
    const [first] = await readyPods(agent, 1);
    const up = await configEdit("minReplicas 2", (doc) =>
      doc.setIn(["config", "agent-fleet:agents", agent, "minReplicas"], 2),
    );
    // The HPA's floor, and the disruption budget derived from it; the Deployment stays the HPA's.
    expect(
      up.steps
        .filter((s) => s.op === "update")
        .map((s) => s.type)
        .sort(),
    ).toEqual([
      "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
      "kubernetes:policy/v1:PodDisruptionBudget",
    ]);
    // The HPA controller raises the Deployment to the new minimum; the scheduler and kubelet run it.
    const two = await readyPods(agent, 2);
    const added = two.find((p) => p.metadata.name !== first!.metadata.name)!;
    // The new replica takes tasks: keep submitting until one of them ran there.
    await waitUntil(
      async () => {
        const batch = await Promise.all([1, 2, 3, 4].map(() => router.submit(type, "scale up", "scale")));
        const done = await Promise.all(batch.map((id) => router.final(id)));
        return done.some((t) => podOfWorker(t.worker, [added]));
      },
      {
        timeoutMs: 120_000,
        intervalMs: 0,
        message: `a task to run on the new replica ${added.metadata.name}`,
      },
    );
    // Back down, with tasks in flight on both replicas while one of them drains.
    const flowing = Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map((i) => router.submit(type, `scale down ${i}`, "down")),
    );
    await configEdit("minReplicas 1, maxReplicas 1", (doc) => {
      doc.setIn(["config", "agent-fleet:agents", agent, "minReplicas"], 1);
      doc.setIn(["config", "agent-fleet:agents", agent, "maxReplicas"], 1);
    });
    await flowing;
    await readyPods(agent, 1);
    await router.assertNothingLost();
  });

  it("a rolling update (a changed env value) with tasks flowing loses none and leaves no lease", async () => {
    const agent: AgentType = "reviewer";
    const type = taskTypesOf(agent)[0]!;
    const [before] = await readyPods(agent, 1);
    let flowing = true;
    const submitter = (async () => {
      let n = 0;
      while (flowing) {
        await router.submit(type, `rolling ${++n}`, "rolling");
        await new Promise((r) => setTimeout(r, 500));
      }
      return n;
    })();
    const report = await configEdit("ECHO_DELAY_MS 1000 → 1200", (doc) =>
      doc.setIn(["config", "agent-fleet:agents", agent, "env"], { ECHO_DELAY_MS: "1200" }),
    );
    flowing = false;
    const submitted = await submitter;
    expect(submitted).toBeGreaterThan(0);
    expect(report.steps.some((s) => s.op === "update" || s.op === "replace")).toBe(true);
    // The provider awaited the rollout: the new pod is the only one, and runs the new value.
    const [after] = await timed("rolling update: after up, until the old pod has drained and gone", () =>
      readyPods(agent, 1),
    );
    expect(after!.metadata.name).not.toBe(before!.metadata.name);
    const cm = kubectl.get("configmap", `agent-${agent}`, NAMESPACE) as { data?: Record<string, string> };
    expect(cm.data?.ECHO_DELAY_MS).toBe("1200");
    await router.assertNothingLost();
  });

  it("Redis restarted with tasks queued: its AOF keeps the queue, workers and the router reconnect", async () => {
    const agent: AgentType = "tester";
    const type = taskTypesOf(agent)[0]!;
    const ids = await Promise.all(
      Array.from({ length: 16 }, (_, i) => router.submit(type, `redis restart ${i}`, "redis")),
    );
    const queued = (await router.queues()).find((q) => q.agent === agent)!;
    expect(queued.ready.P0 + queued.ready.P1 + queued.ready.P2 + queued.ready.P3).toBeGreaterThan(0);
    const [redis] = pods("app.kubernetes.io/name=redis");
    kubectl.ok(["-n", NAMESPACE, "delete", "pod", redis!.metadata.name, "--wait=true", "--timeout=120s"]);
    await waitUntil(
      () => {
        const [p] = pods("app.kubernetes.io/name=redis");
        return p && p.metadata.uid !== redis!.metadata.uid && isReady(p);
      },
      { timeoutMs: 180_000, intervalMs: 1_000, message: "a new Redis pod, Ready" },
    );
    for (const id of ids) expect((await router.final(id)).status, id).toBe("succeeded");
    // After the restart, new work flows through every agent again.
    const after = await Promise.all(
      AGENT_TYPES.map((a) => router.submit(taskTypesOf(a)[0]!, "after redis", "after")),
    );
    for (const id of after) expect((await router.final(id)).status).toBe("succeeded");
    const { tasks, redelivered } = await router.assertNothingLost();
    console.log(
      `node: ledger of ${tasks} tasks, all succeeded; ${redelivered} needed more than one delivery`,
    );
  });
});
