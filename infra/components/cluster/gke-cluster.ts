/**
 * GkeCluster: a private, VPC-native GKE Standard cluster for the fleet.
 *
 * - Network: its own VPC and subnet with secondary ranges for pods and Services; Cloud NAT so the
 *   private nodes reach image registries and the LLM APIs (HTTPS) without public IPs.
 * - Control plane: regional (or zonal when `zone` is set) on a release channel; private nodes; the
 *   public endpoint answers only the configured authorised networks (Google's own public ranges are
 *   not let in either); Dataplane V2 (eBPF, NetworkPolicy enforcement built in); Workload Identity.
 * - Node pools from config, the default pool removed: a dedicated least-privilege node service
 *   account, Shielded VMs, the GKE metadata server (pods never see the node's credentials),
 *   autoscaling bounds as totals across zones, the pool label every agent selects on, taints, GPUs.
 * - Add-ons for the model store backends: the Filestore, GCS FUSE and Persistent Disk CSI drivers.
 */
import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArgsProblems } from "../../lib/args";
import { cidrsOverlap, parseCidr } from "../../lib/cidr";
import { execKubeconfig } from "../../lib/kubeconfig";
import { POOL_LABEL, type KubernetesCluster } from "./kubernetes-cluster";

type TaintEffect = "NoSchedule" | "PreferNoSchedule" | "NoExecute";

export interface GkeNodePoolArgs {
  /** Compute Engine machine type, e.g. "e2-standard-16". */
  machineType: string;
  /** Nodes at least / at most, in total across the cluster's zones. */
  minNodes: number;
  maxNodes: number;
  /** Boot disk (pd-balanced) in GB. */
  diskSizeGb: number;
  /** Spot VMs: up to ~60-90% cheaper, preemptible at any time. */
  spot: boolean;
  /** Extra node labels; `agent-fleet.io/pool=<pool>` is always set. */
  labels?: Record<string, string>;
  taints?: { key: string; value: string; effect: TaintEffect }[];
  /** Accelerators per node, e.g. { type: "nvidia-l4", count: 1 }; GKE installs the driver. */
  gpu?: { type: string; count: number };
}

export interface GkeClusterArgs {
  project: string;
  /** GKE cluster name (1-40 characters: lowercase letters, digits, '-'). Default: Pulumi's auto-name. */
  clusterName?: string;
  region: string;
  /** A zonal cluster in this zone (of `region`) instead of a regional one. */
  zone?: string;
  /** Zones the nodes run in. Default: GKE's choice (three zones for a regional cluster). */
  nodeLocations?: string[];
  releaseChannel: "RAPID" | "REGULAR" | "STABLE";
  network: { nodesCidr: string; podsCidr: string; servicesCidr: string; masterCidr: string };
  /** The only networks that reach the control plane's public endpoint. */
  masterAuthorizedNetworks: { name: string; cidr: string }[];
  nodePools: Record<string, GkeNodePoolArgs>;
  /** Refuse `pulumi destroy` of the cluster. Default true (the provider's default). */
  deletionProtection?: boolean;
  /** Enable the compute, container and file APIs in the project. Default true. */
  enableApis?: boolean;
}

/** Roles of the node service account: GKE's minimal node role and pulling from Artifact Registry. */
export const NODE_ROLES = ["roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader"];
const APIS = ["compute.googleapis.com", "container.googleapis.com", "file.googleapis.com"];
/**
 * Ports the control plane calls on nodes for admission webhooks and aggregated APIs. GKE opens
 * 443 and 10250 itself; Istio's sidecar injector (15017), prometheus-adapter (6443) and common
 * webhook servers (8443, 9443) need this rule on a private cluster.
 */
export const WEBHOOK_PORTS = ["6443", "8443", "9443", "15017"];

const GKE_EFFECT: Record<TaintEffect, string> = {
  NoSchedule: "NO_SCHEDULE",
  PreferNoSchedule: "PREFER_NO_SCHEDULE",
  NoExecute: "NO_EXECUTE",
};

/** Validates GkeClusterArgs; throws ComponentArgsError listing every problem by property path. */
export function validateGkeClusterArgs(name: string, args: GkeClusterArgs): void {
  const problems = new ArgsProblems("GkeCluster", name);
  if (!args.project.trim()) problems.add("project", "must not be empty");
  if (args.clusterName !== undefined && !/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/.test(args.clusterName)) {
    problems.add(
      "clusterName",
      `expected 1-40 lowercase letters, digits and '-', starting with a letter (got "${args.clusterName}")`,
    );
  }
  if (args.zone !== undefined && !args.zone.startsWith(`${args.region}-`)) {
    problems.add("zone", `"${args.zone}" is not a zone of region ${args.region}`);
  }
  (args.nodeLocations ?? []).forEach((z, i) => {
    if (!z.startsWith(`${args.region}-`))
      problems.add(`nodeLocations[${i}]`, `"${z}" is not a zone of region ${args.region}`);
  });
  const ranges = Object.entries(args.network) as [keyof GkeClusterArgs["network"], string][];
  const parsed = ranges.filter(([key, cidr]) => {
    try {
      parseCidr(cidr);
      return true;
    } catch (e) {
      problems.add(`network.${key}`, (e as Error).message);
      return false;
    }
  });
  parsed.forEach(([a, x], i) =>
    parsed.slice(i + 1).forEach(([b, y]) => {
      if (cidrsOverlap(x, y)) problems.add(`network.${b}`, `${y} overlaps network.${a} ${x}`);
    }),
  );
  if (parsed.some(([k]) => k === "masterCidr") && parseCidr(args.network.masterCidr).prefix !== 28) {
    problems.add(
      "network.masterCidr",
      `GKE needs a /28 for the control plane (got ${args.network.masterCidr})`,
    );
  }
  if (args.masterAuthorizedNetworks.length === 0)
    problems.add("masterAuthorizedNetworks", "list at least one network");
  args.masterAuthorizedNetworks.forEach((n, i) => {
    try {
      parseCidr(n.cidr);
    } catch (e) {
      problems.add(`masterAuthorizedNetworks[${i}].cidr`, (e as Error).message);
    }
  });
  const pools = Object.entries(args.nodePools);
  if (pools.length === 0) problems.add("nodePools", "define at least one node pool");
  for (const [pool, np] of pools) {
    const at = `nodePools.${pool}`;
    if (!/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/.test(pool))
      problems.add(at, "GKE node pool names are 1-40 lowercase letters, digits, '-', starting with a letter");
    if (np.maxNodes < 1) problems.add(`${at}.maxNodes`, `must be >= 1 (got ${np.maxNodes})`);
    if (np.minNodes < 0 || np.minNodes > np.maxNodes)
      problems.add(`${at}.minNodes`, `must be from 0 to maxNodes (${np.maxNodes}), got ${np.minNodes}`);
    if (np.gpu && np.gpu.count < 1) problems.add(`${at}.gpu.count`, `must be >= 1 (got ${np.gpu.count})`);
    const own = np.labels?.[POOL_LABEL];
    if (own !== undefined && own !== pool)
      problems.add(`${at}.labels`, `${POOL_LABEL} is set to the pool name ("${pool}"), got "${own}"`);
  }
  problems.throwIfAny();
}

/** The node config of a pool (everything but the service account, which is created here). */
export function nodeConfig(pool: string, np: GkeNodePoolArgs): gcp.types.input.container.NodePoolNodeConfig {
  return {
    machineType: np.machineType,
    diskSizeGb: np.diskSizeGb,
    diskType: "pd-balanced",
    imageType: "COS_CONTAINERD",
    spot: np.spot,
    labels: { ...np.labels, [POOL_LABEL]: pool },
    taints: (np.taints ?? []).map((t) => ({ key: t.key, value: t.value, effect: GKE_EFFECT[t.effect] })),
    oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
    workloadMetadataConfig: { mode: "GKE_METADATA" },
    shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
    metadata: { "disable-legacy-endpoints": "true" },
    ...(np.gpu
      ? {
          guestAccelerators: [
            {
              type: np.gpu.type,
              count: np.gpu.count,
              gpuDriverInstallationConfig: { gpuDriverVersion: "DEFAULT" },
            },
          ],
        }
      : {}),
  };
}

/** Service-account IDs are 6-30 characters: `<name>-nodes`, shortened and padded when needed. */
export function nodeAccountId(name: string): string {
  const base = name
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/^[^a-z]+/, "");
  return `${(base || "gke").slice(0, 24).replace(/-+$/, "")}-nodes`.padEnd(6, "x");
}

export class GkeCluster extends pulumi.ComponentResource implements KubernetesCluster {
  readonly provider: k8s.Provider;
  readonly kubeconfig: pulumi.Output<string>;
  readonly clusterName: pulumi.Output<string>;
  readonly endpoint: pulumi.Output<string>;
  /** Workload Identity pool: bind Kubernetes service accounts to Google ones with it. */
  readonly workloadPool: string;

  constructor(name: string, args: GkeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:cluster:GkeCluster", name, {}, opts);
    validateGkeClusterArgs(name, args);
    const child = { parent: this };
    const { project, region } = args;
    const location = args.zone ?? region;
    this.workloadPool = `${project}.svc.id.goog`;

    const apis =
      args.enableApis === false
        ? []
        : APIS.map(
            (service) =>
              new gcp.projects.Service(
                `${name}-${service.split(".")[0]}-api`,
                { project, service, disableOnDestroy: false },
                child,
              ),
          );
    const afterApis = { parent: this, dependsOn: apis };

    const network = new gcp.compute.Network(
      `${name}-network`,
      { project, autoCreateSubnetworks: false, routingMode: "REGIONAL" },
      afterApis,
    );
    const subnet = new gcp.compute.Subnetwork(
      `${name}-subnet`,
      {
        project,
        region,
        network: network.id,
        ipCidrRange: args.network.nodesCidr,
        privateIpGoogleAccess: true,
        secondaryIpRanges: [
          { rangeName: "pods", ipCidrRange: args.network.podsCidr },
          { rangeName: "services", ipCidrRange: args.network.servicesCidr },
        ],
      },
      child,
    );
    const router = new gcp.compute.Router(`${name}-router`, { project, region, network: network.id }, child);
    const nat = new gcp.compute.RouterNat(
      `${name}-nat`,
      {
        project,
        region,
        router: router.name,
        natIpAllocateOption: "AUTO_ONLY",
        sourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
        subnetworks: [{ name: subnet.id, sourceIpRangesToNats: ["ALL_IP_RANGES"] }],
        logConfig: { enable: true, filter: "ERRORS_ONLY" },
      },
      child,
    );
    new gcp.compute.Firewall(
      `${name}-control-plane-webhooks`,
      {
        project,
        network: network.id,
        direction: "INGRESS",
        sourceRanges: [args.network.masterCidr],
        allows: [{ protocol: "tcp", ports: WEBHOOK_PORTS }],
        description: "GKE control plane to admission webhooks and aggregated APIs on the nodes",
      },
      child,
    );

    const nodeAccount = new gcp.serviceaccount.Account(
      `${name}-nodes`,
      { project, accountId: nodeAccountId(name), displayName: `GKE nodes of ${name}` },
      afterApis,
    );
    const roles = NODE_ROLES.map(
      (role) =>
        new gcp.projects.IAMMember(
          `${name}-nodes-${role.split("/")[1]?.replace(/\./g, "-")}`,
          { project, role, member: pulumi.interpolate`serviceAccount:${nodeAccount.email}` },
          child,
        ),
    );

    const cluster = new gcp.container.Cluster(
      `${name}-cluster`,
      {
        project,
        ...(args.clusterName !== undefined ? { name: args.clusterName } : {}),
        location,
        ...(args.nodeLocations ? { nodeLocations: args.nodeLocations } : {}),
        network: network.id,
        subnetwork: subnet.id,
        networkingMode: "VPC_NATIVE",
        ipAllocationPolicy: { clusterSecondaryRangeName: "pods", servicesSecondaryRangeName: "services" },
        // A cluster must be created with a pool; it is removed at once in favour of ours.
        removeDefaultNodePool: true,
        initialNodeCount: 1,
        releaseChannel: { channel: args.releaseChannel },
        workloadIdentityConfig: { workloadPool: this.workloadPool },
        datapathProvider: "ADVANCED_DATAPATH",
        privateClusterConfig: {
          enablePrivateNodes: true,
          enablePrivateEndpoint: false,
          masterIpv4CidrBlock: args.network.masterCidr,
        },
        masterAuthorizedNetworksConfig: {
          cidrBlocks: args.masterAuthorizedNetworks.map((n) => ({ displayName: n.name, cidrBlock: n.cidr })),
          gcpPublicCidrsAccessEnabled: false,
        },
        enableShieldedNodes: true,
        addonsConfig: {
          gcpFilestoreCsiDriverConfig: { enabled: true },
          gcsFuseCsiDriverConfig: { enabled: true },
          gcePersistentDiskCsiDriverConfig: { enabled: true },
        },
        deletionProtection: args.deletionProtection ?? true,
      },
      afterApis,
    );
    this.clusterName = cluster.name;
    this.endpoint = cluster.endpoint;

    const pools = Object.entries(args.nodePools).map(
      ([pool, np]) =>
        new gcp.container.NodePool(
          `${name}-${pool}`,
          {
            project,
            location,
            cluster: cluster.name,
            name: pool,
            // Per zone, at creation only; the autoscaler moves it to the totals below.
            initialNodeCount: np.minNodes > 0 ? 1 : 0,
            autoscaling: {
              totalMinNodeCount: np.minNodes,
              totalMaxNodeCount: np.maxNodes,
              locationPolicy: "BALANCED",
            },
            management: { autoRepair: true, autoUpgrade: true },
            upgradeSettings: { strategy: "SURGE", maxSurge: 1, maxUnavailable: 0 },
            nodeConfig: { ...nodeConfig(pool, np), serviceAccount: nodeAccount.email },
          },
          // Nodes pull images from outside Google through the NAT; without it they start broken.
          { parent: this, dependsOn: [nat, ...roles], ignoreChanges: ["initialNodeCount"] },
        ),
    );

    this.kubeconfig = pulumi.secret(
      pulumi
        .all([cluster.name, cluster.endpoint, cluster.masterAuth.clusterCaCertificate])
        .apply(([clusterName, endpoint, caData]) =>
          execKubeconfig({
            name: `gke_${project}_${location}_${clusterName}`,
            server: `https://${endpoint}`,
            caData: caData ?? "",
            command: "gke-gcloud-auth-plugin",
            installHint: "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
          }),
        ),
    );
    this.provider = new k8s.Provider(
      `${name}-provider`,
      { kubeconfig: this.kubeconfig, enableServerSideApply: true },
      // Workloads go on once nodes exist to run them.
      { parent: this, dependsOn: pools },
    );
    this.registerOutputs({
      kubeconfig: this.kubeconfig,
      clusterName: this.clusterName,
      endpoint: this.endpoint,
    });
  }
}
