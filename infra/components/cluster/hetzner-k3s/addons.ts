/**
 * HetznerK3sAddons: what turns bare K3s on Hetzner into a cloud cluster, installed with Helm on the
 * cluster's own provider (pass `provider` in the options):
 * - hcloud-cloud-controller-manager: initialises nodes (provider IDs, private InternalIPs, zone
 *   labels), removes deleted servers, and provisions hcloud load balancers for LoadBalancer Services;
 * - hcloud-csi: hcloud volumes as the default StorageClass `hcloud-volumes` (ReadWriteOnce);
 * - cluster-autoscaler (Hetzner provider) for the pools whose minNodes < maxNodes.
 * All three run on the control plane (it tolerates CriticalAddonsOnly), so the autoscaler never
 * evicts itself by removing the node it runs on, and agents' capacity stays theirs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArgsProblems } from "../../../lib/args";
import { K3S_CLUSTER_CIDR, k3sVersionProblem, type NodeTaint } from "./cloud-init";

export interface AutoscaledPool {
  serverType: string;
  minNodes: number;
  maxNodes: number;
  labels: Record<string, string>;
  taints: NodeTaint[];
  /** The pool's worker cloud-init (secret: it holds the agent join token). */
  cloudInit: pulumi.Input<string>;
}

export interface HetznerK3sAddonsArgs {
  /** Prefix of the autoscaler's node groups (hcloud server names are unique per project). */
  clusterName: string;
  location: string;
  k3sVersion: string;
  /** OS image of autoscaled servers (same as the fixed ones). */
  image: string;
  hcloudToken: pulumi.Input<string>;
  networkId: pulumi.Input<string>;
  /** Firewall every autoscaled server joins. */
  workerFirewallId: pulumi.Input<string>;
  sshKey?: string;
  autoscaledPools: Record<string, AutoscaledPool>;
  /** Chart versions; defaults in CHART_VERSIONS. */
  charts?: { ccm?: string; csi?: string; autoscaler?: string };
}

/** Pinned chart versions (published in the charts' repositories; bump deliberately). */
export const CHART_VERSIONS = { ccm: "1.25.1", csi: "2.19.0", autoscaler: "9.38.0" } as const;
export const HCLOUD_CHARTS = "https://charts.hetzner.cloud";
export const AUTOSCALER_CHARTS = "https://kubernetes.github.io/autoscaler";

const onControlPlane = {
  nodeSelector: { "node-role.kubernetes.io/control-plane": "true" },
  tolerations: [
    { key: "CriticalAddonsOnly", operator: "Exists" },
    { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
  ],
};

/**
 * The autoscaler must match the cluster's Kubernetes minor version (its scheduler simulation is
 * compiled in): K3s v1.33.5+k3s1 → cluster-autoscaler v1.33.0.
 */
export function autoscalerImageTag(k3sVersion: string): string {
  const m = /^v1\.(\d+)\./.exec(k3sVersion);
  if (!m) throw new Error(`k3sVersion: cannot derive the Kubernetes minor from "${k3sVersion}"`);
  return `v1.${m[1]}.0`;
}

/** Node group name of a pool: `<cluster>-<pool>` (the autoscaler names servers after it). */
export function nodeGroupName(clusterName: string, pool: string): string {
  return `${clusterName}-${pool}`;
}

/**
 * HCLOUD_CLUSTER_CONFIG (base64 JSON, see the autoscaler's Hetzner README): per node group the
 * cloud-init that joins the server to the cluster, and the labels and taints the autoscaler
 * assumes when it plans a scale-up from zero (kubelet sets the same ones from cloud-init).
 */
export function hcloudClusterConfig(
  clusterName: string,
  image: string,
  pools: Record<string, Omit<AutoscaledPool, "cloudInit"> & { cloudInit: string }>,
): string {
  const config = {
    imagesForArch: { amd64: image, arm64: image },
    nodeConfigs: Object.fromEntries(
      Object.entries(pools).map(([pool, p]) => [
        nodeGroupName(clusterName, pool),
        { cloudInit: p.cloudInit, labels: p.labels, taints: p.taints },
      ]),
    ),
  };
  return Buffer.from(JSON.stringify(config), "utf8").toString("base64");
}

/** The cluster-autoscaler chart values (without secrets, which come from a Secret). */
export function autoscalerValues(
  args: Pick<HetznerK3sAddonsArgs, "clusterName" | "location" | "k3sVersion" | "sshKey"> & {
    pools: Record<string, Pick<AutoscaledPool, "serverType" | "minNodes" | "maxNodes">>;
    networkId: pulumi.Input<string>;
    firewallId: pulumi.Input<string>;
    secretName: string;
  },
): Record<string, unknown> {
  return {
    cloudProvider: "hetzner",
    autoscalingGroups: Object.entries(args.pools).map(([pool, p]) => ({
      name: nodeGroupName(args.clusterName, pool),
      minSize: p.minNodes,
      maxSize: p.maxNodes,
      instanceType: p.serverType,
      region: args.location,
    })),
    image: { tag: autoscalerImageTag(args.k3sVersion) },
    extraArgs: {
      // Keep min nodes up even with no pending pods (the autoscaler creates a pool's first nodes).
      "enforce-node-group-min-size": true,
      expander: "least-waste",
      "scale-down-unneeded-time": "10m",
      "skip-nodes-with-local-storage": false,
    },
    extraEnv: {
      HCLOUD_NETWORK: args.networkId,
      HCLOUD_FIREWALL: args.firewallId,
      HCLOUD_PUBLIC_IPV4: "true",
      HCLOUD_PUBLIC_IPV6: "false",
      ...(args.sshKey !== undefined ? { HCLOUD_SSH_KEY: args.sshKey } : {}),
    },
    extraEnvSecrets: {
      HCLOUD_TOKEN: { name: args.secretName, key: "token" },
      HCLOUD_CLUSTER_CONFIG: { name: args.secretName, key: "cluster-config" },
    },
    ...onControlPlane,
  };
}

/** Validates HetznerK3sAddonsArgs; throws ComponentArgsError listing every problem by property path. */
export function validateHetznerK3sAddonsArgs(name: string, args: HetznerK3sAddonsArgs): void {
  const problems = new ArgsProblems("HetznerK3sAddons", name);
  const version = k3sVersionProblem(args.k3sVersion);
  if (version) problems.add("k3sVersion", version);
  for (const [pool, p] of Object.entries(args.autoscaledPools)) {
    if (!(p.minNodes >= 0 && p.minNodes <= p.maxNodes)) {
      problems.add(
        `autoscaledPools.${pool}.minNodes`,
        `must be from 0 to maxNodes (${p.maxNodes}), got ${p.minNodes}`,
      );
    }
  }
  problems.throwIfAny();
}

export class HetznerK3sAddons extends pulumi.ComponentResource {
  constructor(name: string, args: HetznerK3sAddonsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:cluster:HetznerK3sAddons", name, {}, opts);
    validateHetznerK3sAddonsArgs(name, args);
    const child = { parent: this };
    const charts = { ...CHART_VERSIONS, ...args.charts };
    const token = pulumi.secret(args.hcloudToken);

    // The Secret both hcloud charts read by default: `hcloud` with keys token and network.
    const hcloudSecret = new k8s.core.v1.Secret(
      `${name}-hcloud-secret`,
      {
        metadata: { name: "hcloud", namespace: "kube-system" },
        type: "Opaque",
        stringData: { token, network: args.networkId },
      },
      child,
    );

    const ccm = new k8s.helm.v3.Release(
      `${name}-ccm`,
      {
        name: "hcloud-cloud-controller-manager",
        chart: "hcloud-cloud-controller-manager",
        version: charts.ccm,
        repositoryOpts: { repo: HCLOUD_CHARTS },
        namespace: "kube-system",
        values: {
          // networking.enabled reports each node's private IP as its InternalIP (K3s's node-ip);
          // routes stay off because flannel already carries pod traffic over the private network.
          // The CCM needs K3s's pod range, though it programs no routes (flannel does).
          networking: { enabled: true, clusterCIDR: K3S_CLUSTER_CIDR },
          env: {
            HCLOUD_NETWORK_ROUTES_ENABLED: { value: "false" },
            HCLOUD_LOAD_BALANCERS_LOCATION: { value: args.location },
            HCLOUD_LOAD_BALANCERS_USE_PRIVATE_IP: { value: "true" },
          },
          additionalTolerations: onControlPlane.tolerations,
          nodeSelector: onControlPlane.nodeSelector,
        },
      },
      { parent: this, dependsOn: [hcloudSecret] },
    );

    new k8s.helm.v3.Release(
      `${name}-csi`,
      {
        name: "hcloud-csi",
        chart: "hcloud-csi",
        version: charts.csi,
        repositoryOpts: { repo: HCLOUD_CHARTS },
        namespace: "kube-system",
        values: {
          controller: { hcloudVolumeDefaultLocation: args.location, ...onControlPlane },
          storageClasses: [{ name: "hcloud-volumes", defaultStorageClass: true, reclaimPolicy: "Delete" }],
        },
      },
      { parent: this, dependsOn: [hcloudSecret, ccm] },
    );

    const pools = Object.entries(args.autoscaledPools);
    if (pools.length > 0) {
      const secretName = "cluster-autoscaler-hcloud";
      const clusterConfig = pulumi
        .all(
          pools.map(([pool, p]) =>
            pulumi.output(p.cloudInit).apply((cloudInit) => [pool, { ...p, cloudInit }] as const),
          ),
        )
        .apply((entries) => hcloudClusterConfig(args.clusterName, args.image, Object.fromEntries(entries)));
      const autoscalerSecret = new k8s.core.v1.Secret(
        `${name}-autoscaler-secret`,
        {
          metadata: { name: secretName, namespace: "kube-system" },
          type: "Opaque",
          stringData: { token, "cluster-config": pulumi.secret(clusterConfig) },
        },
        child,
      );
      new k8s.helm.v3.Release(
        `${name}-autoscaler`,
        {
          name: "cluster-autoscaler",
          chart: "cluster-autoscaler",
          version: charts.autoscaler,
          repositoryOpts: { repo: AUTOSCALER_CHARTS },
          namespace: "kube-system",
          values: autoscalerValues({
            clusterName: args.clusterName,
            location: args.location,
            k3sVersion: args.k3sVersion,
            ...(args.sshKey !== undefined ? { sshKey: args.sshKey } : {}),
            pools: Object.fromEntries(pools),
            networkId: args.networkId,
            firewallId: args.workerFirewallId,
            secretName,
          }),
        },
        { parent: this, dependsOn: [autoscalerSecret, ccm] },
      );
    }
    this.registerOutputs({});
  }
}
