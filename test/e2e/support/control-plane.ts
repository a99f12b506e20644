/**
 * The throwaway control plane the e2e suite deploys to: binaries from toolchain.sh (built from Go
 * modules, cached by version; the Pulumi engine too), processes from cluster.sh (etcd, kube-apiserver,
 * kube-controller-manager on 127.0.0.1 with generated certificates).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const HERE = __dirname;
const E2E_DIR = join(HERE, "..");

export interface ControlPlane {
  dir: string;
  kubeconfig: string;
  server: string;
  binDir: string;
}

/** Runs one of the e2e shell scripts; its stderr (progress) goes to ours, its stdout is returned. */
function script(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync("bash", [join(E2E_DIR, name), ...args], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`test/e2e/${name} ${args.join(" ")} exited with ${r.status}`);
  return r.stdout.trim();
}

export interface Toolchain {
  /** etcd, kube-apiserver, kube-controller-manager, kubectl and the pulumi CLI. */
  binDir: string;
  /** The provider plugins, installed for the engine (a PULUMI_HOME's plugins/ links here). */
  pluginsDir: string;
  /** Istio's CRDs, from the source istioctl is built from. */
  istioCrds: string;
  /** cert-manager's CRDs (the stacks' ingress asks it for a Certificate). */
  certManagerCrds: string;
  /** The Prometheus Operator's PrometheusRule, PodMonitor and ServiceMonitor CRDs. */
  prometheusOperatorCrds: string;
}

/**
 * Builds (or finds in the cache) the control plane and the Pulumi engine (toolchain.sh): every tool,
 * or only the ones named (toolchain.sh's names: etcd, kubernetes, containerd, coredns, pulumi, ...).
 * E2E_TOOLCHAIN_BUILT=<bin folder> says a caller has just built them there (`.ci/run` does, then
 * builds the next phase while a suite runs): the suites use it without asking toolchain.sh.
 */
export function ensureToolchain(only: readonly string[] = []): Toolchain {
  const built = process.env.E2E_TOOLCHAIN_BUILT;
  const lines = built ? [built] : script("toolchain.sh", [...only]).split("\n");
  const binDir = lines[lines.length - 1];
  if (!binDir) throw new Error("toolchain.sh printed no bin folder");
  return {
    binDir,
    pluginsDir: join(binDir, "..", "pulumi-home", "plugins"),
    istioCrds: join(binDir, "..", "share", "istio-crds.yaml"),
    certManagerCrds: join(binDir, "..", "share", "cert-manager-crds.yaml"),
    prometheusOperatorCrds: join(binDir, "..", "share", "prometheus-operator-crds.yaml"),
  };
}

const clusterJson = z.object({ dir: z.string(), kubeconfig: z.string(), server: z.string() });

export function startControlPlane(binDir: string): ControlPlane {
  // The cluster stops with this process even if the test runner dies before its teardown.
  const dir = script("cluster.sh", ["start"], {
    ...process.env,
    E2E_TOOLS_BIN: binDir,
    E2E_OWNER_PID: String(process.pid),
  });
  const info = clusterJson.parse(JSON.parse(readFileSync(join(dir, "cluster.json"), "utf8")));
  return { ...info, binDir };
}

export function stopControlPlane(cp: ControlPlane): void {
  script("cluster.sh", ["stop", cp.dir]);
}
