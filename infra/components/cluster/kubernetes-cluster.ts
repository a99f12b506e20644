/**
 * The interface every cluster backend exposes (ExistingCluster, GkeCluster, HetznerK3sCluster):
 * everything downstream takes only this, never the backend itself.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

export interface KubernetesCluster {
  /** Provider that talks to the cluster; pass it as `provider` to Kubernetes resources. */
  readonly provider: k8s.Provider;
  /** Admin kubeconfig, always a secret Output. */
  readonly kubeconfig: pulumi.Output<string>;
  /** The StorageClass the backend offers for shared (ReadOnlyMany/ReadWriteMany) model volumes, if any. */
  readonly sharedStorageClass?: pulumi.Output<string>;
}

/** Label every node pool carries and every agent selects on: `agent-fleet.io/pool=<pool>`. */
export const POOL_LABEL = "agent-fleet.io/pool";
