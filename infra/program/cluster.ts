/** The cluster backend a stack asks for, chosen by the config's discriminated union (never by name). */
import * as pulumi from "@pulumi/pulumi";
import { SECRET_PLACEHOLDER } from "../config/load";
import type { FleetConfig } from "../config/resolve";
import { ExistingCluster } from "../components/cluster/existing-cluster";
import { GkeCluster } from "../components/cluster/gke-cluster";
import { HetznerK3sCluster } from "../components/cluster/hetzner-k3s/hetzner-k3s-cluster";
import type { KubernetesCluster } from "../components/cluster/kubernetes-cluster";

/**
 * The hcloud provider's own token (`pulumi config set --secret hcloud:token <token>`) is also what
 * the in-cluster controllers (CCM, CSI driver, cluster autoscaler) use; one token, one place.
 * Offline evaluations (the renderer, tests: no engine) get a placeholder, as stack secrets do.
 */
export function hcloudToken(): pulumi.Output<string> {
  const config = new pulumi.Config("hcloud");
  if (!pulumi.runtime.hasEngine()) return config.getSecret("token") ?? pulumi.secret(SECRET_PLACEHOLDER);
  return config.requireSecret("token");
}

export function createCluster(config: FleetConfig): KubernetesCluster {
  const c = config.cluster;
  switch (c.provider) {
    case "existing":
      return new ExistingCluster("cluster", {
        ...(c.kubeconfig !== undefined ? { kubeconfigPath: c.kubeconfig } : {}),
        ...(c.context !== undefined ? { context: c.context } : {}),
      });
    case "gke": {
      const { provider: _provider, ...args } = c;
      return new GkeCluster("cluster", { ...args, clusterName: `agent-fleet-${pulumi.getStack()}` });
    }
    case "hetzner-k3s": {
      const { provider: _provider, ...args } = c;
      return new HetznerK3sCluster("cluster", {
        ...args,
        clusterName: `agent-fleet-${pulumi.getStack()}`,
        hcloudToken: hcloudToken(),
      });
    }
  }
}
