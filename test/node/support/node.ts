/**
 * The node suite's cluster: test/node/node.sh (the e2e control plane plus containerd, kubelet,
 * kube-scheduler, kube-proxy and CoreDNS, inside namespaces and a cgroup of its own), and
 * `kubectl port-forward` to reach its Services from the test process, as an operator would.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { ControlPlane } from "../../e2e/support/control-plane";

const NODE_SH = join(__dirname, "..", "node.sh");

const nodeJson = z.object({
  dir: z.string(),
  kubeconfig: z.string(),
  server: z.string(),
  nodeName: z.string(),
  nodeIP: z.string(),
  holderPid: z.number(),
  cgroupRoot: z.string(),
  containerdAddress: z.string(),
  startSeconds: z.number(),
});
export type NodeInfo = z.infer<typeof nodeJson>;

/** A running node, usable wherever the e2e support wants a control plane. */
export interface NodeCluster extends ControlPlane, NodeInfo {}

function script(args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync("bash", [NODE_SH, ...args], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`test/node/node.sh ${args.join(" ")} exited with ${r.status}`);
  return r.stdout.trim();
}

/** Starts the node with `images` (an OCI archive) imported; it stops with this process at the latest. */
export function startNode(binDir: string, images: string, pauseImage: string): NodeCluster {
  const dir = script(["start"], {
    ...process.env,
    E2E_TOOLS_BIN: binDir,
    E2E_OWNER_PID: String(process.pid),
    NODE_IMAGES: images,
    NODE_PAUSE_IMAGE: pauseImage,
  });
  const info = nodeJson.parse(JSON.parse(readFileSync(join(dir, "node.json"), "utf8")));
  return { ...info, binDir };
}

export function stopNode(node: NodeCluster): void {
  script(["stop", node.dir], process.env);
}

/** Runs a command inside the node's network and mount namespaces (ctr, iptables, ...). */
export function inNode(node: NodeCluster, command: string[]): string {
  const r = spawnSync("bash", [NODE_SH, "exec", node.dir, ...command], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${command.join(" ")} in the node exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/**
 * Memory in use: the node's cgroup subtree (containerd, kubelet, kube-proxy, kube-scheduler,
 * CoreDNS and every pod; cgroup v1 or v2) and the control plane's processes (resident sets).
 */
export function nodeMemory(node: NodeCluster): { nodeCgroupMiB: number; controlPlaneMiB: number } {
  const v1 = join("/sys/fs/cgroup/memory", node.cgroupRoot, "memory.usage_in_bytes");
  const v2 = join("/sys/fs/cgroup", node.cgroupRoot, "memory.current");
  const usage = Number(readFileSync(existsSync(v1) ? v1 : v2, "utf8"));
  let rssKiB = 0;
  for (const name of ["etcd", "kube-apiserver", "kube-controller-manager"]) {
    const pid = readFileSync(join(node.dir, "control-plane", `${name}.pid`), "utf8").trim();
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    rssKiB += Number(m?.[1] ?? 0);
  }
  return { nodeCgroupMiB: Math.round(usage / 2 ** 20), controlPlaneMiB: Math.round(rssKiB / 1024) };
}

/** `kubectl port-forward` to a Service or pod: a local port on 127.0.0.1 until stop(). */
export class PortForward {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async open(
    node: NodeCluster,
    namespace: string,
    target: string,
    remotePort: number,
  ): Promise<PortForward> {
    const child = spawn(
      join(node.binDir, "kubectl"),
      [
        "--kubeconfig",
        node.kubeconfig,
        "-n",
        namespace,
        "port-forward",
        "--address",
        "127.0.0.1",
        target,
        `0:${remotePort}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`port-forward ${target}: no port after 60s:\n${output}`)),
        60_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`port-forward ${target} exited ${code}:\n${output}`));
      });
    });
    return new PortForward(child, port);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    await exited;
  }
}
