/** GkeCluster under Pulumi mocks, driven by the prod stack file: recorded inputs asserted property by property. */
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { createCluster } from "../../../../infra/program/cluster";
import {
  NODE_ROLES,
  WEBHOOK_PORTS,
  nodeAccountId,
  validateGkeClusterArgs,
  type GkeClusterArgs,
} from "../../../../infra/components/cluster/gke-cluster";
import { named, ofType, runProgram, valueAndSecrecy, type NumericIdMocks } from "../../support/cluster-mocks";
import { stackConfig } from "../../support/stacks";

const CLUSTER = "gcp:container/cluster:Cluster";
const NODE_POOL = "gcp:container/nodePool:NodePool";

interface Run {
  mocks: NumericIdMocks;
  kubeconfig: { value: string; secret: boolean };
}

async function deploy(edit?: (values: Record<string, unknown>) => void): Promise<Run> {
  const config = stackConfig("prod", edit);
  const { mocks, result } = await runProgram("prod", () => createCluster(config));
  return { mocks, kubeconfig: await valueAndSecrecy(result.kubeconfig) };
}

describe("prod (gke, regional europe-west4)", () => {
  let run: Run;
  beforeAll(async () => {
    run = await deploy();
  });

  it("enables the APIs it needs", () => {
    const services = ofType(run.mocks, "gcp:projects/service:Service").map((s) => s.inputs);
    expect(services).toEqual(
      ["compute", "container", "file"].map((api) => ({
        project: "agent-fleet-prod",
        service: `${api}.googleapis.com`,
        disableOnDestroy: false,
      })),
    );
  });

  it("creates a VPC-native network with secondary ranges and Cloud NAT for the private nodes", () => {
    const network = named(run.mocks, "gcp:compute/network:Network", "cluster-network");
    expect(network.inputs).toMatchObject({ autoCreateSubnetworks: false, routingMode: "REGIONAL" });
    const subnet = named(run.mocks, "gcp:compute/subnetwork:Subnetwork", "cluster-subnet");
    expect(subnet.inputs).toMatchObject({
      project: "agent-fleet-prod",
      region: "europe-west4",
      network: "cluster-network-id",
      ipCidrRange: "10.10.0.0/20",
      privateIpGoogleAccess: true,
      secondaryIpRanges: [
        { rangeName: "pods", ipCidrRange: "10.20.0.0/14" },
        { rangeName: "services", ipCidrRange: "10.24.0.0/20" },
      ],
    });
    const nat = named(run.mocks, "gcp:compute/routerNat:RouterNat", "cluster-nat");
    expect(nat.inputs).toMatchObject({
      region: "europe-west4",
      natIpAllocateOption: "AUTO_ONLY",
      sourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
      subnetworks: [{ name: "cluster-subnet-id", sourceIpRangesToNats: ["ALL_IP_RANGES"] }],
    });
  });

  it("opens nothing to the internet: the only firewall rule admits the control plane to webhooks", () => {
    const rules = ofType(run.mocks, "gcp:compute/firewall:Firewall");
    expect(rules).toHaveLength(1);
    expect(rules[0]?.inputs).toMatchObject({
      direction: "INGRESS",
      sourceRanges: ["172.16.0.0/28"],
      allows: [{ protocol: "tcp", ports: WEBHOOK_PORTS }],
    });
    expect(WEBHOOK_PORTS).toContain("15017"); // Istio's sidecar injector
  });

  it("creates a private, regional cluster with Workload Identity, Dataplane V2 and the CSI drivers", () => {
    const cluster = named(run.mocks, CLUSTER, "cluster-cluster");
    expect(cluster.inputs).toMatchObject({
      name: "agent-fleet-prod",
      project: "agent-fleet-prod",
      location: "europe-west4",
      network: "cluster-network-id",
      subnetwork: "cluster-subnet-id",
      networkingMode: "VPC_NATIVE",
      ipAllocationPolicy: { clusterSecondaryRangeName: "pods", servicesSecondaryRangeName: "services" },
      removeDefaultNodePool: true,
      initialNodeCount: 1,
      releaseChannel: { channel: "REGULAR" },
      workloadIdentityConfig: { workloadPool: "agent-fleet-prod.svc.id.goog" },
      datapathProvider: "ADVANCED_DATAPATH",
      privateClusterConfig: {
        enablePrivateNodes: true,
        enablePrivateEndpoint: false,
        masterIpv4CidrBlock: "172.16.0.0/28",
      },
      enableShieldedNodes: true,
      addonsConfig: {
        gcpFilestoreCsiDriverConfig: { enabled: true },
        gcsFuseCsiDriverConfig: { enabled: true },
        gcePersistentDiskCsiDriverConfig: { enabled: true },
      },
      deletionProtection: true,
    });
    // Only the configured networks reach the endpoint; Google's public ranges are not let in.
    expect(cluster.inputs.masterAuthorizedNetworksConfig).toEqual({
      cidrBlocks: [
        { displayName: "office", cidrBlock: "203.0.113.0/24" },
        { displayName: "ci", cidrBlock: "198.51.100.0/24" },
      ],
      gcpPublicCidrsAccessEnabled: false,
    });
    // Dataplane V2 enforces NetworkPolicy itself; the legacy Calico switch must stay off.
    expect(cluster.inputs).not.toHaveProperty("networkPolicy");
  });

  it("creates the agents and ml pools with autoscaling totals, labels, taints and hardened nodes", () => {
    const pools = ofType(run.mocks, NODE_POOL);
    expect(pools.map((p) => p.name).sort()).toEqual(["cluster-agents", "cluster-ml"]);
    const email = "cluster-nodes@agent-fleet-prod.iam.gserviceaccount.com";
    const hardened = {
      diskType: "pd-balanced",
      imageType: "COS_CONTAINERD",
      serviceAccount: email,
      oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
      workloadMetadataConfig: { mode: "GKE_METADATA" },
      shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
      metadata: { "disable-legacy-endpoints": "true" },
    };
    expect(named(run.mocks, NODE_POOL, "cluster-agents").inputs).toMatchObject({
      name: "agents",
      cluster: "agent-fleet-prod",
      location: "europe-west4",
      initialNodeCount: 1,
      autoscaling: { totalMinNodeCount: 2, totalMaxNodeCount: 8, locationPolicy: "BALANCED" },
      management: { autoRepair: true, autoUpgrade: true },
      nodeConfig: {
        ...hardened,
        machineType: "e2-standard-16",
        diskSizeGb: 100,
        spot: false,
        labels: { "agent-fleet.io/pool": "agents" },
        taints: [],
      },
    });
    const ml = named(run.mocks, NODE_POOL, "cluster-ml").inputs;
    expect(ml).toMatchObject({
      name: "ml",
      autoscaling: { totalMinNodeCount: 1, totalMaxNodeCount: 5 },
      nodeConfig: {
        ...hardened,
        machineType: "n2-highmem-16",
        labels: { "agent-fleet.io/pool": "ml" },
        taints: [{ key: "agent-fleet.io/pool", value: "ml", effect: "NO_SCHEDULE" }],
      },
    });
    expect(ml.nodeConfig).not.toHaveProperty("guestAccelerators");
  });

  it("gives the nodes a dedicated service account with the minimal roles", () => {
    expect(named(run.mocks, "gcp:serviceaccount/account:Account", "cluster-nodes").inputs).toMatchObject({
      project: "agent-fleet-prod",
      accountId: "cluster-nodes",
    });
    const members = ofType(run.mocks, "gcp:projects/iAMMember:IAMMember").map((m) => m.inputs);
    expect(members).toEqual(
      NODE_ROLES.map((role) => ({
        project: "agent-fleet-prod",
        role,
        member: "serviceAccount:cluster-nodes@agent-fleet-prod.iam.gserviceaccount.com",
      })),
    );
  });

  it("outputs a secret kubeconfig that authenticates with gke-gcloud-auth-plugin", () => {
    expect(run.kubeconfig.secret).toBe(true);
    const kc = parse(run.kubeconfig.value) as {
      clusters: { name: string; cluster: Record<string, string> }[];
      users: { user: { exec: Record<string, unknown> } }[];
      "current-context": string;
    };
    const name = "gke_agent-fleet-prod_europe-west4_agent-fleet-prod";
    expect(kc["current-context"]).toBe(name);
    expect(kc.clusters[0]).toEqual({
      name,
      cluster: {
        server: "https://203.0.113.10",
        "certificate-authority-data": Buffer.from("mock-ca-cluster-cluster").toString("base64"),
      },
    });
    expect(kc.users[0]?.user.exec).toMatchObject({
      apiVersion: "client.authentication.k8s.io/v1beta1",
      command: "gke-gcloud-auth-plugin",
      provideClusterInfo: true,
    });
    expect(run.kubeconfig.value).not.toMatch(/token|client-key/);
    expect(named(run.mocks, "pulumi:providers:kubernetes", "cluster-provider").secretKeys).toContain(
      "kubeconfig",
    );
  });
});

describe("edited prod: zonal cluster, GPU pool, spot", () => {
  let run: Run;
  beforeAll(async () => {
    run = await deploy((v) => {
      const cluster = v.cluster as Record<string, unknown> & {
        nodePools: Record<string, Record<string, unknown>>;
      };
      cluster.zone = "europe-west4-a";
      Object.assign(cluster.nodePools.ml ?? {}, { gpu: { type: "nvidia-l4", count: 1 }, minNodes: 0 });
      Object.assign(cluster.nodePools.agents ?? {}, { spot: true });
    });
  });

  it("places cluster and pools in the zone and attaches the GPU with GKE's driver", () => {
    expect(named(run.mocks, CLUSTER, "cluster-cluster").inputs.location).toBe("europe-west4-a");
    const ml = named(run.mocks, NODE_POOL, "cluster-ml").inputs;
    expect(ml).toMatchObject({
      location: "europe-west4-a",
      initialNodeCount: 0,
      autoscaling: { totalMinNodeCount: 0, totalMaxNodeCount: 5 },
      nodeConfig: {
        guestAccelerators: [
          { type: "nvidia-l4", count: 1, gpuDriverInstallationConfig: { gpuDriverVersion: "DEFAULT" } },
        ],
      },
    });
    expect(named(run.mocks, NODE_POOL, "cluster-agents").inputs).toMatchObject({
      nodeConfig: { spot: true },
    });
  });
});

describe("pure helpers", () => {
  const valid: GkeClusterArgs = {
    project: "p",
    region: "europe-west4",
    releaseChannel: "REGULAR",
    network: {
      nodesCidr: "10.10.0.0/20",
      podsCidr: "10.20.0.0/14",
      servicesCidr: "10.24.0.0/20",
      masterCidr: "172.16.0.0/28",
    },
    masterAuthorizedNetworks: [{ name: "office", cidr: "203.0.113.0/24" }],
    nodePools: {
      agents: { machineType: "e2-standard-8", minNodes: 1, maxNodes: 3, diskSizeGb: 100, spot: false },
    },
  };

  it("validates with field paths", () => {
    expect(() => validateGkeClusterArgs("cluster", valid)).not.toThrow();
    expect(() =>
      validateGkeClusterArgs("cluster", {
        ...valid,
        zone: "us-central1-a",
        network: { ...valid.network, servicesCidr: "10.20.0.0/20", masterCidr: "172.16.0.0/24" },
        masterAuthorizedNetworks: [],
        nodePools: { agents: { ...valid.nodePools.agents!, minNodes: 5 } },
      }),
    ).toThrow(
      'GkeCluster "cluster": zone: "us-central1-a" is not a zone of region europe-west4; ' +
        "network.servicesCidr: 10.20.0.0/20 overlaps network.podsCidr 10.20.0.0/14; " +
        "network.masterCidr: GKE needs a /28 for the control plane (got 172.16.0.0/24); " +
        "masterAuthorizedNetworks: list at least one network; " +
        "nodePools.agents.minNodes: must be from 0 to maxNodes (3), got 5",
    );
  });

  it("derives a valid node service-account ID", () => {
    expect(nodeAccountId("cluster")).toBe("cluster-nodes");
    expect(nodeAccountId("A_very_long_component_name_indeed")).toBe("a-very-long-component-na-nodes");
    expect(nodeAccountId("1")).toBe("gke-nodes");
  });
});
