/** The cluster backend a stack asks for, chosen by the config's discriminated union (never by name). */
import * as pulumi from "@pulumi/pulumi";
import type { FleetConfig } from "./config";
import type { KubernetesCluster } from "./components/cluster";
import { ExistingCluster } from "./components/existing-cluster";

export function createCluster(config: FleetConfig): KubernetesCluster {
  const c = config.cluster;
  switch (c.provider) {
    case "existing":
      return new ExistingCluster("cluster", {
        ...(c.kubeconfig !== undefined ? { kubeconfigPath: c.kubeconfig } : {}),
        ...(c.context !== undefined ? { context: c.context } : {}),
      });
    case "gke":
    case "hetzner-k3s":
      throw new pulumi.RunError(`cluster.provider "${c.provider}" is not available yet`);
  }
}
