import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArgsProblems } from "../../lib/args";
import type { KubernetesCluster } from "./kubernetes-cluster";

export interface ExistingClusterArgs {
  /**
   * Path to a kubeconfig file (`~` expands to the home directory). Default: none, so the provider
   * uses the ambient kubeconfig (KUBECONFIG or ~/.kube/config).
   */
  kubeconfigPath?: string;
  /** Context inside the kubeconfig. Default: its current context. */
  context?: string;
  /**
   * Read the kubeconfig file when the program runs and expose it as the `kubeconfig` output.
   * Default true; false leaves the output empty (useful when the file only exists on the machine
   * that runs `pulumi up`).
   */
  readKubeconfig?: boolean;
}

/** Expands a leading `~/` to the home directory. */
export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? homedir() + path.slice(1) : path;
}

/** Validates ExistingClusterArgs; throws ComponentArgsError listing every problem by property path. */
export function validateExistingClusterArgs(name: string, args: ExistingClusterArgs): void {
  const problems = new ArgsProblems("ExistingCluster", name);
  if (args.kubeconfigPath !== undefined && args.kubeconfigPath.trim() === "") {
    problems.add("kubeconfigPath", "must not be empty (omit it to use the ambient kubeconfig)");
  }
  if (args.context !== undefined && args.context.trim() === "") {
    problems.add("context", "must not be empty (omit it to use the current context)");
  }
  problems.throwIfAny();
}

/** A cluster someone else runs: a Kubernetes provider from a kubeconfig path and context. */
export class ExistingCluster extends pulumi.ComponentResource implements KubernetesCluster {
  readonly provider: k8s.Provider;
  readonly kubeconfig: pulumi.Output<string>;

  constructor(name: string, args: ExistingClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:cluster:ExistingCluster", name, {}, opts);
    validateExistingClusterArgs(name, args);
    const path = args.kubeconfigPath === undefined ? undefined : expandHome(args.kubeconfigPath);
    const text = path !== undefined && args.readKubeconfig !== false ? readIfPresent(path) : undefined;

    this.kubeconfig = pulumi.secret(text ?? "");
    this.provider = new k8s.Provider(
      `${name}-provider`,
      {
        // The provider reads the file itself when given a path; the contents stay out of state.
        ...(path !== undefined ? { kubeconfig: path } : {}),
        ...(args.context !== undefined ? { context: args.context } : {}),
        enableServerSideApply: true,
      },
      { parent: this },
    );
    this.registerOutputs({ kubeconfig: this.kubeconfig });
  }
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
