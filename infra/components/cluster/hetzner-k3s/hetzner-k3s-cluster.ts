/**
 * HetznerK3sCluster: a K3s cluster on Hetzner Cloud that comes out of `pulumi up` with a working
 * admin kubeconfig and nothing done by hand.
 *
 * The kubeconfig problem: K3s generates its CAs on first start, on the server, where Pulumi cannot
 * read them back without SSH. Instead Pulumi generates the cluster CAs (@pulumi/tls) and hands them
 * to the first server through cloud-init before K3s starts (K3s uses CA files it finds in
 * /var/lib/rancher/k3s/server/tls), and signs an admin client certificate (O=system:masters) with
 * the client CA. The kubeconfig is then known to Pulumi from the start: first control-plane's
 * public IP + server CA + admin certificate. Its public IPv4 is a Primary IP allocated before the
 * server, so it can go into the serving certificate's SANs.
 */
import * as hcloud from "@pulumi/hcloud";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { isDeploying, waitForReadyz } from "../../../lib/api-server-ready";
import { ArgsProblems } from "../../../lib/args";
import { cidrContains, cidrsOverlap, hostInCidr, parseCidr } from "../../../lib/cidr";
import { clientCertKubeconfig } from "../../../lib/kubeconfig";
import { POOL_LABEL, type KubernetesCluster } from "../kubernetes-cluster";
import { HetznerK3sAddons } from "./addons";
import {
  agentCloudInit,
  K3S_CLUSTER_CIDR,
  K3S_SERVICE_CIDR,
  k3sVersionProblem,
  serverCloudInit,
  type K3sAgentInit,
  type NodeTaint,
} from "./cloud-init";
import { K3sPki } from "./pki";

export interface HetznerNodePoolArgs {
  /** Hetzner server type, e.g. "cpx51" (16 vCPU, 32 GB) or "ccx53" (32 dedicated vCPU, 128 GB). */
  serverType: string;
  /** Nodes at least / at most. Equal = a fixed pool of hcloud servers; min < max = cluster-autoscaler node group. */
  minNodes: number;
  maxNodes: number;
  /** Extra node labels; `agent-fleet.io/pool=<pool>` is always set. */
  labels?: Record<string, string>;
  taints?: NodeTaint[];
}

export interface HetznerK3sClusterArgs {
  /** Hetzner location of every server, e.g. "nbg1". */
  location: string;
  /** Network zone of the private subnet; must contain `location` (nbg1/fsn1/hel1 = "eu-central"). */
  networkZone: string;
  /** Pinned K3s release, e.g. "v1.33.5+k3s1". Changes apply to new nodes only (see docs/clusters.md). */
  k3sVersion: string;
  /** OS image of every server, e.g. "ubuntu-24.04". */
  image: string;
  /** Private network and the subnet the servers live in. */
  network: { cidr: string; subnetCidr: string };
  /** 1 server (SQLite) or 3 (embedded etcd, HA). */
  controlPlane: { count: 1 | 3; serverType: string };
  /** CIDRs allowed to reach the Kubernetes API (6443) and SSH (22). Nothing else is open. */
  firewall: { apiCidrs: string[]; sshCidrs?: string[] };
  /** Names or IDs of existing hcloud SSH keys for the servers. Default none (no SSH login). */
  sshKeys?: string[];
  nodePools: Record<string, HetznerNodePoolArgs>;
  /**
   * Hetzner Cloud API token for the in-cluster controllers (CCM, CSI, autoscaler), stored in the
   * kube-system Secret `hcloud`. The program passes `hcloud:token` (a Pulumi secret).
   */
  hcloudToken: pulumi.Input<string>;
  /** Prefix of the autoscaler's node groups and server labels. Default: the component name. */
  clusterName?: string;
  /** Chart versions of the add-ons. */
  charts?: { ccm?: string; csi?: string; autoscaler?: string };
  /** Hold the kubeconfig back until the API answers /readyz (only during `pulumi up`). Default true. */
  waitForApiServer?: boolean;
}

/** Control-plane servers get fixed private addresses from this host number on (10, 11, 12). */
const CONTROL_PLANE_HOST = 10;
/** Hetzner spread placement groups hold at most 10 servers. */
export const MAX_SPREAD_GROUP = 10;

/** Validates HetznerK3sClusterArgs; throws ComponentArgsError listing every problem by property path. */
export function validateHetznerK3sClusterArgs(name: string, args: HetznerK3sClusterArgs): void {
  const problems = new ArgsProblems("HetznerK3sCluster", name);
  const version = k3sVersionProblem(args.k3sVersion);
  if (version) problems.add("k3sVersion", version);
  const cidrOk = (value: string, path: string) => {
    try {
      parseCidr(value);
      return true;
    } catch (e) {
      problems.add(path, (e as Error).message);
      return false;
    }
  };
  if (cidrOk(args.network.cidr, "network.cidr") && cidrOk(args.network.subnetCidr, "network.subnetCidr")) {
    if (!cidrContains(args.network.cidr, args.network.subnetCidr)) {
      problems.add(
        "network.subnetCidr",
        `${args.network.subnetCidr} is not inside network.cidr ${args.network.cidr}`,
      );
    } else if (parseCidr(args.network.subnetCidr).prefix > 28) {
      problems.add(
        "network.subnetCidr",
        `needs at least a /28 for the control-plane addresses (got ${args.network.subnetCidr})`,
      );
    }
    const clashes = [K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR].filter((k3s) =>
      cidrsOverlap(args.network.cidr, k3s),
    );
    if (clashes.length) {
      problems.add(
        "network.cidr",
        `${args.network.cidr} overlaps K3s's pod/service ranges (${clashes.join(", ")})`,
      );
    }
  }
  if (args.controlPlane.count !== 1 && args.controlPlane.count !== 3) {
    problems.add(
      "controlPlane.count",
      `expected 1 or 3 (3 = embedded-etcd HA), got ${String(args.controlPlane.count)}`,
    );
  }
  if (args.firewall.apiCidrs.length === 0) problems.add("firewall.apiCidrs", "list at least one CIDR");
  args.firewall.apiCidrs.forEach((c, i) => cidrOk(c, `firewall.apiCidrs[${i}]`));
  (args.firewall.sshCidrs ?? []).forEach((c, i) => cidrOk(c, `firewall.sshCidrs[${i}]`));
  const pools = Object.entries(args.nodePools);
  if (pools.length === 0) problems.add("nodePools", "define at least one node pool");
  for (const [pool, np] of pools) {
    const at = `nodePools.${pool}`;
    if (!/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/.test(pool))
      problems.add(at, "pool names are DNS labels of at most 32 characters");
    if (np.maxNodes < 1) problems.add(`${at}.maxNodes`, `must be >= 1 (got ${np.maxNodes})`);
    if (np.minNodes < 0 || np.minNodes > np.maxNodes) {
      problems.add(`${at}.minNodes`, `must be from 0 to maxNodes (${np.maxNodes}), got ${np.minNodes}`);
    }
    const own = np.labels?.[POOL_LABEL];
    if (own !== undefined && own !== pool)
      problems.add(`${at}.labels`, `${POOL_LABEL} is set to the pool name ("${pool}"), got "${own}"`);
  }
  problems.throwIfAny();
}

/** Firewall rules: the API and SSH from the listed CIDRs only; an empty list opens nothing. */
export function firewallRules(apiCidrs: string[], sshCidrs: string[]): hcloud.types.input.FirewallRule[] {
  const rules: hcloud.types.input.FirewallRule[] = [];
  if (apiCidrs.length) {
    rules.push({
      direction: "in",
      protocol: "tcp",
      port: "6443",
      sourceIps: apiCidrs,
      description: "Kubernetes API",
    });
  }
  if (sshCidrs.length) {
    rules.push({ direction: "in", protocol: "tcp", port: "22", sourceIps: sshCidrs, description: "SSH" });
  }
  return rules;
}

/** Node labels of a pool: its own plus the pool label every agent selects on. */
export function poolLabels(pool: string, np: HetznerNodePoolArgs): Record<string, string> {
  return { ...np.labels, [POOL_LABEL]: pool };
}

/** Fixed pools (min = max) are hcloud servers Pulumi owns; the others belong to the autoscaler. */
export function isAutoscaled(np: HetznerNodePoolArgs): boolean {
  return np.minNodes < np.maxNodes;
}

/** hcloud resource IDs are numbers on the wire; Pulumi exposes them as strings. */
const numericId = (r: pulumi.CustomResource): pulumi.Output<number> => r.id.apply((id) => Number(id));

export class HetznerK3sCluster extends pulumi.ComponentResource implements KubernetesCluster {
  readonly provider: k8s.Provider;
  readonly kubeconfig: pulumi.Output<string>;
  /** https://<first control-plane public IPv4>:6443 */
  readonly apiServerUrl: pulumi.Output<string>;
  readonly networkId: pulumi.Output<string>;
  readonly controlPlaneIps: pulumi.Output<string>[];

  constructor(name: string, args: HetznerK3sClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:cluster:HetznerK3sCluster", name, {}, opts);
    validateHetznerK3sClusterArgs(name, args);
    const child = { parent: this };
    const image = args.image;
    const clusterName = args.clusterName ?? name;
    const labels = { "agent-fleet.io/cluster": clusterName };

    const network = new hcloud.Network(`${name}-network`, { ipRange: args.network.cidr, labels }, child);
    const subnet = new hcloud.NetworkSubnet(
      `${name}-subnet`,
      {
        networkId: numericId(network),
        type: "cloud",
        networkZone: args.networkZone,
        ipRange: args.network.subnetCidr,
      },
      child,
    );
    this.networkId = network.id;

    // Hetzner firewalls filter the public interfaces only; node-to-node traffic (flannel VXLAN,
    // kubelet, etcd) stays on the private network and is not affected.
    const sshCidrs = args.firewall.sshCidrs ?? [];
    const cpFirewall = new hcloud.Firewall(
      `${name}-cp-firewall`,
      { rules: firewallRules(args.firewall.apiCidrs, sshCidrs), labels },
      child,
    );
    const workerFirewall = new hcloud.Firewall(
      `${name}-worker-firewall`,
      { rules: firewallRules([], sshCidrs), labels },
      child,
    );

    const token = new random.RandomPassword(`${name}-token`, { length: 48, special: false }, child);
    const agentToken = new random.RandomPassword(
      `${name}-agent-token`,
      { length: 48, special: false },
      child,
    );
    const pki = new K3sPki(`${name}-pki`, {}, child);

    const cpCount = args.controlPlane.count;
    const cpPrivateIps = Array.from({ length: cpCount }, (_, i) =>
      hostInCidr(args.network.subnetCidr, CONTROL_PLANE_HOST + i),
    );
    const cpPublic = Array.from(
      { length: cpCount },
      (_, i) =>
        new hcloud.PrimaryIp(
          `${name}-cp-${i}-ipv4`,
          { type: "ipv4", assigneeType: "server", location: args.location, autoDelete: false, labels },
          child,
        ),
    );
    this.controlPlaneIps = cpPublic.map((ip) => ip.ipAddress);
    const joinUrl = `https://${cpPrivateIps[0]}:6443`;
    const cpPlacement = new hcloud.PlacementGroup(`${name}-cp-placement`, { type: "spread", labels }, child);

    const controlPlane = cpPublic.map((publicIp, i) => {
      const userData = pulumi
        .all([token.result, agentToken.result, pki.caBundle, pulumi.all(this.controlPlaneIps)])
        .apply(([t, at, cas, publicIps]) =>
          serverCloudInit({
            k3sVersion: args.k3sVersion,
            token: t,
            agentToken: at,
            mode: i > 0 ? { join: joinUrl } : cpCount === 3 ? "cluster-init" : "single",
            tlsSans: [...publicIps, ...cpPrivateIps],
            ...(i === 0 ? { cas } : {}),
          }),
        );
      return new hcloud.Server(
        `${name}-cp-${i}`,
        {
          serverType: args.controlPlane.serverType,
          image,
          location: args.location,
          placementGroupId: numericId(cpPlacement),
          firewallIds: [numericId(cpFirewall)],
          networks: [{ networkId: numericId(network), ip: cpPrivateIps[i] }],
          publicNets: [{ ipv4Enabled: true, ipv4: numericId(publicIp), ipv6Enabled: false }],
          sshKeys: args.sshKeys ?? [],
          userData: pulumi.secret(userData),
          labels: { ...labels, "agent-fleet.io/role": "control-plane" },
        },
        // A changed cloud-init (new K3s version) must not replace a control-plane server: that
        // would wipe the datastore. Upgrades go through K3s itself (docs/clusters.md).
        { parent: this, dependsOn: [subnet], ignoreChanges: ["userData", "image"] },
      );
    });

    const agentInit = (pool: string, np: HetznerNodePoolArgs): pulumi.Output<string> =>
      agentToken.result.apply((at) => {
        const init: K3sAgentInit = {
          k3sVersion: args.k3sVersion,
          serverUrl: joinUrl,
          agentToken: at,
          labels: poolLabels(pool, np),
          taints: np.taints ?? [],
        };
        return agentCloudInit(init);
      });

    const workers: hcloud.Server[] = [];
    for (const [pool, np] of Object.entries(args.nodePools)) {
      if (isAutoscaled(np)) continue;
      const placement =
        np.maxNodes <= MAX_SPREAD_GROUP
          ? new hcloud.PlacementGroup(`${name}-${pool}-placement`, { type: "spread", labels }, child)
          : undefined;
      const userData = pulumi.secret(agentInit(pool, np));
      for (let i = 0; i < np.maxNodes; i++) {
        workers.push(
          new hcloud.Server(
            `${name}-${pool}-${i}`,
            {
              serverType: np.serverType,
              image,
              location: args.location,
              ...(placement ? { placementGroupId: numericId(placement) } : {}),
              firewallIds: [numericId(workerFirewall)],
              networks: [{ networkId: numericId(network) }],
              publicNets: [{ ipv4Enabled: true, ipv6Enabled: false }],
              sshKeys: args.sshKeys ?? [],
              userData,
              labels: { ...labels, "agent-fleet.io/role": "worker", [POOL_LABEL]: pool },
            },
            { parent: this, dependsOn: [subnet, ...controlPlane], ignoreChanges: ["userData", "image"] },
          ),
        );
      }
    }

    this.apiServerUrl = pulumi.interpolate`https://${cpPublic[0]?.ipAddress}:6443`;
    const waitForApi = args.waitForApiServer ?? true;
    const kubeconfig = pulumi
      .all([this.apiServerUrl, pki.serverCaPem, pki.adminCertPem, pki.adminKeyPem, controlPlane[0]?.id])
      .apply(async ([server, caPem, certPem, keyPem]) => {
        if (waitForApi && isDeploying()) await waitForReadyz({ server, caPem, certPem, keyPem });
        return clientCertKubeconfig({ name: clusterName, server, caPem, certPem, keyPem });
      });
    this.kubeconfig = pulumi.secret(kubeconfig);
    this.provider = new k8s.Provider(
      `${name}-provider`,
      { kubeconfig: this.kubeconfig, enableServerSideApply: true },
      { parent: this },
    );

    const autoscaled = Object.fromEntries(
      Object.entries(args.nodePools)
        .filter(([, np]) => isAutoscaled(np))
        .map(([pool, np]) => [
          pool,
          { ...np, labels: poolLabels(pool, np), taints: np.taints ?? [], cloudInit: agentInit(pool, np) },
        ]),
    );
    new HetznerK3sAddons(
      `${name}-addons`,
      {
        clusterName,
        location: args.location,
        k3sVersion: args.k3sVersion,
        image,
        hcloudToken: args.hcloudToken,
        networkId: network.id,
        workerFirewallId: workerFirewall.id,
        ...(args.sshKeys?.[0] !== undefined ? { sshKey: args.sshKeys[0] } : {}),
        autoscaledPools: autoscaled,
        ...(args.charts ? { charts: args.charts } : {}),
      },
      { parent: this, provider: this.provider, dependsOn: workers },
    );

    this.registerOutputs({
      kubeconfig: this.kubeconfig,
      apiServerUrl: this.apiServerUrl,
      networkId: this.networkId,
    });
  }
}
