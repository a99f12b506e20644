/**
 * HetznerK3sCluster under Pulumi mocks, driven by the staging stack file (and edited copies of it):
 * recorded inputs asserted property by property.
 */
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { createCluster } from "../../../../../infra/program/cluster";
import {
  BOOTSTRAP_PATH,
  K3S_CONFIG_PATH,
  K3S_TLS_DIR,
} from "../../../../../infra/components/cluster/hetzner-k3s/cloud-init";
import {
  firewallRules,
  validateHetznerK3sClusterArgs,
  type HetznerK3sClusterArgs,
} from "../../../../../infra/components/cluster/hetzner-k3s/hetzner-k3s-cluster";
import type { RecordedResource } from "../../../../../infra/render/mocks";
import {
  fileIn,
  named,
  ofType,
  parseCloudInit,
  runProgram,
  valueAndSecrecy,
  type NumericIdMocks,
} from "../../../support/cluster-mocks";
import { stackConfig } from "../../../support/stacks";

const SERVER = "hcloud:index/server:Server";
const FIREWALL = "hcloud:index/firewall:Firewall";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const SECRET = "kubernetes:core/v1:Secret";

interface Run {
  mocks: NumericIdMocks;
  kubeconfig: { value: string; secret: boolean };
}

async function deploy(edit?: (values: Record<string, unknown>) => void): Promise<Run> {
  const config = stackConfig("staging", edit);
  const { mocks, result } = await runProgram("staging", () => createCluster(config));
  return { mocks, kubeconfig: await valueAndSecrecy(result.kubeconfig) };
}

function k3sConfig(server: RecordedResource): Record<string, unknown> {
  return parse(fileIn(parseCloudInit(server.inputs.userData), K3S_CONFIG_PATH).content) as Record<
    string,
    unknown
  >;
}

describe("staging (hetzner-k3s, 1 control-plane server, both pools autoscaled)", () => {
  let run: Run;
  beforeAll(async () => {
    run = await deploy();
  });

  it("creates the private network and subnet from config", () => {
    const network = named(run.mocks, "hcloud:index/network:Network", "cluster-network");
    expect(network.inputs.ipRange).toBe("10.0.0.0/16");
    const subnet = named(run.mocks, "hcloud:index/networkSubnet:NetworkSubnet", "cluster-subnet");
    expect(subnet.inputs).toMatchObject({
      ipRange: "10.0.1.0/24",
      networkZone: "eu-central",
      type: "cloud",
      networkId: run.mocks.idOf("cluster-network"),
    });
  });

  it("opens the API and SSH to the configured CIDRs only, and nothing on workers but SSH", () => {
    const cp = named(run.mocks, FIREWALL, "cluster-cp-firewall").inputs.rules;
    expect(cp).toEqual([
      {
        direction: "in",
        protocol: "tcp",
        port: "6443",
        sourceIps: ["203.0.113.0/24"],
        description: "Kubernetes API",
      },
      { direction: "in", protocol: "tcp", port: "22", sourceIps: ["203.0.113.0/24"], description: "SSH" },
    ]);
    const worker = named(run.mocks, FIREWALL, "cluster-worker-firewall").inputs.rules;
    expect(worker).toEqual([
      { direction: "in", protocol: "tcp", port: "22", sourceIps: ["203.0.113.0/24"], description: "SSH" },
    ]);
    for (const fw of ofType(run.mocks, FIREWALL)) {
      for (const rule of fw.inputs.rules as { sourceIps: string[] }[]) {
        expect(rule.sourceIps).not.toContain("0.0.0.0/0");
        expect(rule.sourceIps).not.toContain("::/0");
      }
    }
    // No empty list opens anything: a firewall with no rules denies all inbound traffic.
    expect(firewallRules([], [])).toEqual([]);
  });

  it("creates one control-plane server (autoscaled pools have no Pulumi servers)", () => {
    const servers = ofType(run.mocks, SERVER);
    expect(servers.map((s) => s.name)).toEqual(["cluster-cp-0"]);
    const cp = servers[0] as RecordedResource;
    expect(cp.inputs).toMatchObject({
      serverType: "cpx31",
      image: "ubuntu-24.04",
      location: "nbg1",
      firewallIds: [run.mocks.idOf("cluster-cp-firewall")],
      placementGroupId: run.mocks.idOf("cluster-cp-placement"),
      networks: [{ networkId: run.mocks.idOf("cluster-network"), ip: "10.0.1.10" }],
      publicNets: [{ ipv4Enabled: true, ipv4: run.mocks.idOf("cluster-cp-0-ipv4"), ipv6Enabled: false }],
      labels: { "agent-fleet.io/cluster": "agent-fleet-staging", "agent-fleet.io/role": "control-plane" },
    });
    expect(
      named(run.mocks, "hcloud:index/placementGroup:PlacementGroup", "cluster-cp-placement").inputs.type,
    ).toBe("spread");
    expect(cp.secretKeys).toContain("userData");
  });

  it("cloud-init installs the pinned K3s with the required flags and the generated tokens", () => {
    const cp = named(run.mocks, SERVER, "cluster-cp-0");
    const init = parseCloudInit(cp.inputs.userData);
    expect(init.runcmd).toEqual([[BOOTSTRAP_PATH]]);
    const config = k3sConfig(cp);
    expect(config.token).toMatch(/^mock-[0-9a-f]{32}$/); // RandomPassword under RecordingMocks
    expect(config["agent-token"]).toMatch(/^mock-[0-9a-f]{32}$/);
    expect(config["agent-token"]).not.toBe(config.token);
    expect(config).toMatchObject({
      disable: ["traefik", "servicelb", "local-storage"],
      "disable-cloud-controller": true,
      "node-taint": ["CriticalAddonsOnly=true:NoExecute"],
      "secrets-encryption": true,
    });
    expect(config["kubelet-arg"]).toContain("cloud-provider=external");
    expect(config).not.toHaveProperty("cluster-init"); // one server: SQLite
    expect(config).not.toHaveProperty("server");
    const publicIp = named(run.mocks, "hcloud:index/primaryIp:PrimaryIp", "cluster-cp-0-ipv4");
    expect(publicIp.inputs).toMatchObject({ type: "ipv4", assigneeType: "server", location: "nbg1" });
    expect(config["tls-san"]).toEqual([expect.stringMatching(/^203\.0\.113\.\d+$/), "10.0.1.10"]);
    const script = fileIn(init, BOOTSTRAP_PATH);
    expect(script.permissions).toBe("0700");
    expect(script.content).toContain("INSTALL_K3S_VERSION='v1.33.5+k3s1' INSTALL_K3S_EXEC='server'");
    expect(script.content).toContain("flannel-iface: $IFACE");
    expect(script.content).toContain("node-ip: $IP");
    expect(script.content).toContain('echo "advertise-address: $IP"');
    expect(fileIn(init, K3S_CONFIG_PATH).permissions).toBe("0600");
  });

  it("hands K3s the Pulumi-generated CAs before it starts", () => {
    const init = parseCloudInit(named(run.mocks, SERVER, "cluster-cp-0").inputs.userData);
    for (const ca of ["client-ca", "server-ca", "request-header-ca", "etcd/peer-ca", "etcd/server-ca"]) {
      expect(fileIn(init, `${K3S_TLS_DIR}/${ca}.crt`).content).toContain("BEGIN MOCK CERTIFICATE");
      expect(fileIn(init, `${K3S_TLS_DIR}/${ca}.key`)).toMatchObject({ permissions: "0600" });
    }
    expect(fileIn(init, `${K3S_TLS_DIR}/service.key`).content).toContain("PRIVATE KEY");
    const clientCaCert = named(run.mocks, "tls:index/selfSignedCert:SelfSignedCert", "cluster-pki-client-ca");
    expect(clientCaCert.inputs).toMatchObject({ isCaCertificate: true, validityPeriodHours: 87600 });
    const csr = named(run.mocks, "tls:index/certRequest:CertRequest", "cluster-pki-admin-csr");
    expect(csr.inputs.subject).toEqual({ commonName: "agent-fleet-admin", organization: "system:masters" });
    const admin = named(run.mocks, "tls:index/locallySignedCert:LocallySignedCert", "cluster-pki-admin-cert");
    expect(admin.inputs.allowedUses).toEqual(["client_auth", "digital_signature", "key_encipherment"]);
    expect(admin.inputs.caCertPem).toBe(fileIn(init, `${K3S_TLS_DIR}/client-ca.crt`).content);
  });

  it("outputs a secret kubeconfig for the first control-plane's IP with the admin certificate", () => {
    expect(run.kubeconfig.secret).toBe(true);
    const kc = parse(run.kubeconfig.value) as {
      clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
      users: { user: Record<string, string> }[];
      "current-context": string;
    };
    const init = parseCloudInit(named(run.mocks, SERVER, "cluster-cp-0").inputs.userData);
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const ip = (k3sConfig(named(run.mocks, SERVER, "cluster-cp-0"))["tls-san"] as string[])[0];
    expect(kc.clusters[0]?.cluster).toEqual({
      server: `https://${ip}:6443`,
      "certificate-authority-data": b64(fileIn(init, `${K3S_TLS_DIR}/server-ca.crt`).content),
    });
    expect(kc.users[0]?.user["client-key-data"]).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(kc["current-context"]).toBe("agent-fleet-staging");
    const provider = named(run.mocks, "pulumi:providers:kubernetes", "cluster-provider");
    expect(provider.secretKeys).toContain("kubeconfig");
  });

  it("installs the hcloud CCM and CSI driver with the token from a Pulumi secret", () => {
    const hcloud = named(run.mocks, SECRET, "cluster-addons-hcloud-secret");
    expect(hcloud.inputs.metadata).toEqual({ name: "hcloud", namespace: "kube-system" });
    expect(hcloud.secretKeys).toContain("stringData");
    expect(hcloud.inputs.stringData).toEqual({
      token: "[secret]",
      network: String(run.mocks.idOf("cluster-network")),
    });
    const ccm = named(run.mocks, RELEASE, "cluster-addons-ccm");
    expect(ccm.inputs).toMatchObject({
      chart: "hcloud-cloud-controller-manager",
      version: "1.25.1",
      namespace: "kube-system",
      repositoryOpts: { repo: "https://charts.hetzner.cloud" },
      values: {
        networking: { enabled: true, clusterCIDR: "10.42.0.0/16" },
        env: {
          HCLOUD_NETWORK_ROUTES_ENABLED: { value: "false" },
          HCLOUD_LOAD_BALANCERS_USE_PRIVATE_IP: { value: "true" },
        },
      },
    });
    const csi = named(run.mocks, RELEASE, "cluster-addons-csi");
    expect(csi.inputs).toMatchObject({
      chart: "hcloud-csi",
      version: "2.19.0",
      values: {
        controller: { hcloudVolumeDefaultLocation: "nbg1" },
        storageClasses: [{ name: "hcloud-volumes", defaultStorageClass: true, reclaimPolicy: "Delete" }],
      },
    });
  });

  it("runs the cluster autoscaler for both pools with the worker cloud-init", () => {
    const ca = named(run.mocks, RELEASE, "cluster-addons-autoscaler");
    expect(ca.inputs).toMatchObject({
      chart: "cluster-autoscaler",
      version: "9.38.0",
      repositoryOpts: { repo: "https://kubernetes.github.io/autoscaler" },
      values: {
        cloudProvider: "hetzner",
        image: { tag: "v1.33.0" },
        autoscalingGroups: [
          {
            name: "agent-fleet-staging-agents",
            minSize: 2,
            maxSize: 5,
            instanceType: "cpx51",
            region: "nbg1",
          },
          { name: "agent-fleet-staging-ml", minSize: 1, maxSize: 2, instanceType: "ccx53", region: "nbg1" },
        ],
        extraEnv: {
          HCLOUD_NETWORK: String(run.mocks.idOf("cluster-network")),
          HCLOUD_FIREWALL: String(run.mocks.idOf("cluster-worker-firewall")),
          HCLOUD_PUBLIC_IPV4: "true",
          HCLOUD_PUBLIC_IPV6: "false",
        },
        extraEnvSecrets: {
          HCLOUD_TOKEN: { name: "cluster-autoscaler-hcloud", key: "token" },
          HCLOUD_CLUSTER_CONFIG: { name: "cluster-autoscaler-hcloud", key: "cluster-config" },
        },
        extraArgs: { "enforce-node-group-min-size": true },
      },
    });
    const secret = named(run.mocks, SECRET, "cluster-addons-autoscaler-secret");
    expect(secret.secretKeys).toContain("stringData");
    const stringData = secret.inputs.stringData as Record<string, string>;
    const clusterConfig = JSON.parse(
      Buffer.from(stringData["cluster-config"] ?? "", "base64").toString(),
    ) as {
      imagesForArch: Record<string, string>;
      nodeConfigs: Record<string, { cloudInit: string; labels: Record<string, string>; taints: unknown[] }>;
    };
    expect(clusterConfig.imagesForArch).toEqual({ amd64: "ubuntu-24.04", arm64: "ubuntu-24.04" });
    expect(Object.keys(clusterConfig.nodeConfigs)).toEqual([
      "agent-fleet-staging-agents",
      "agent-fleet-staging-ml",
    ]);
    const ml = clusterConfig.nodeConfigs["agent-fleet-staging-ml"];
    expect(ml?.labels).toEqual({ "agent-fleet.io/pool": "ml" });
    expect(ml?.taints).toEqual([{ key: "agent-fleet.io/pool", value: "ml", effect: "NoSchedule" }]);
    const mlConfig = parse(fileIn(parseCloudInit(ml?.cloudInit), K3S_CONFIG_PATH).content) as Record<
      string,
      unknown
    >;
    const serverConfig = k3sConfig(named(run.mocks, SERVER, "cluster-cp-0"));
    expect(mlConfig).toEqual({
      server: "https://10.0.1.10:6443",
      token: serverConfig["agent-token"],
      "kubelet-arg": serverConfig["kubelet-arg"],
      "node-label": ["agent-fleet.io/pool=ml"],
      "node-taint": ["agent-fleet.io/pool=ml:NoSchedule"],
    });
    expect(fileIn(parseCloudInit(ml?.cloudInit), BOOTSTRAP_PATH).content).toContain(
      "INSTALL_K3S_EXEC='agent'",
    );
  });
});

describe("edited staging: 3 control-plane servers (HA) and fixed pools", () => {
  let run: Run;
  beforeAll(async () => {
    run = await deploy((v) => {
      const cluster = v.cluster as {
        controlPlane: { count: number };
        nodePools: Record<string, Record<string, number>>;
      };
      cluster.controlPlane.count = 3;
      Object.assign(cluster.nodePools.agents ?? {}, { minNodes: 2, maxNodes: 2 });
      Object.assign(cluster.nodePools.ml ?? {}, { minNodes: 1, maxNodes: 1 });
    });
  });

  it("first server runs cluster-init with the CAs, the others join it over the private network", () => {
    const [first, second, third] = [0, 1, 2].map((i) => named(run.mocks, SERVER, `cluster-cp-${i}`));
    const c1 = k3sConfig(first as RecordedResource);
    expect(c1["cluster-init"]).toBe(true);
    expect(c1["tls-san"]).toHaveLength(6);
    for (const [i, s] of [second, third].entries()) {
      const c = k3sConfig(s as RecordedResource);
      expect(c.server).toBe("https://10.0.1.10:6443");
      expect(c.token).toBe(c1.token);
      expect(c).not.toHaveProperty("cluster-init");
      expect((s as RecordedResource).inputs.networks).toEqual([
        { networkId: run.mocks.idOf("cluster-network"), ip: `10.0.1.${11 + i}` },
      ]);
      const files = parseCloudInit((s as RecordedResource).inputs.userData).write_files.map((f) => f.path);
      expect(files.filter((f) => f.startsWith(K3S_TLS_DIR))).toEqual([]);
    }
  });

  it("fixed pools are hcloud servers with the pool's labels, taints and the worker firewall", () => {
    const workers = ofType(run.mocks, SERVER).filter((s) => !s.name.startsWith("cluster-cp-"));
    expect(workers.map((w) => w.name).sort()).toEqual([
      "cluster-agents-0",
      "cluster-agents-1",
      "cluster-ml-0",
    ]);
    for (const w of workers) {
      const pool = w.name.split("-")[1] as string;
      expect(w.inputs).toMatchObject({
        serverType: pool === "ml" ? "ccx53" : "cpx51",
        firewallIds: [run.mocks.idOf("cluster-worker-firewall")],
        placementGroupId: run.mocks.idOf(`cluster-${pool}-placement`),
        networks: [{ networkId: run.mocks.idOf("cluster-network") }],
        publicNets: [{ ipv4Enabled: true, ipv6Enabled: false }],
        labels: { "agent-fleet.io/pool": pool, "agent-fleet.io/role": "worker" },
      });
      expect(w.secretKeys).toContain("userData");
      const c = k3sConfig(w);
      expect(c["node-label"]).toEqual([`agent-fleet.io/pool=${pool}`]);
      expect(c["node-taint"]).toEqual(pool === "ml" ? ["agent-fleet.io/pool=ml:NoSchedule"] : []);
    }
    // No pool is autoscaled, so there is no autoscaler.
    expect(
      ofType(run.mocks, RELEASE)
        .map((r) => r.name)
        .sort(),
    ).toEqual(["cluster-addons-ccm", "cluster-addons-csi"]);
  });
});

describe("validateHetznerK3sClusterArgs", () => {
  const valid: HetznerK3sClusterArgs = {
    location: "nbg1",
    networkZone: "eu-central",
    k3sVersion: "v1.33.5+k3s1",
    network: { cidr: "10.0.0.0/16", subnetCidr: "10.0.1.0/24" },
    controlPlane: { count: 1, serverType: "cpx31" },
    firewall: { apiCidrs: ["203.0.113.0/24"] },
    nodePools: { agents: { serverType: "cpx51", minNodes: 1, maxNodes: 3 } },
    hcloudToken: "t",
    image: "ubuntu-24.04",
  };

  it("validates with field paths", () => {
    expect(() => validateHetznerK3sClusterArgs("cluster", valid)).not.toThrow();
    expect(() =>
      validateHetznerK3sClusterArgs("cluster", {
        ...valid,
        k3sVersion: "1.33",
        network: { cidr: "10.42.0.0/15", subnetCidr: "10.0.1.0/24" },
        firewall: { apiCidrs: [] },
        nodePools: {
          agents: { serverType: "cpx51", minNodes: 4, maxNodes: 3, labels: { "agent-fleet.io/pool": "x" } },
        },
      }),
    ).toThrow(
      'HetznerK3sCluster "cluster": k3sVersion: expected a K3s release such as "v1.33.5+k3s1" (got "1.33"); ' +
        "network.subnetCidr: 10.0.1.0/24 is not inside network.cidr 10.42.0.0/15; " +
        "network.cidr: 10.42.0.0/15 overlaps K3s's pod/service ranges (10.42.0.0/16, 10.43.0.0/16); " +
        "firewall.apiCidrs: list at least one CIDR; " +
        "nodePools.agents.minNodes: must be from 0 to maxNodes (3), got 4; " +
        'nodePools.agents.labels: agent-fleet.io/pool is set to the pool name ("agents"), got "x"',
    );
    expect(() =>
      validateHetznerK3sClusterArgs("cluster", {
        ...valid,
        network: { cidr: "10.40.0.0/14", subnetCidr: "10.40.1.0/24" },
      }),
    ).toThrow("network.cidr: 10.40.0.0/14 overlaps K3s's pod/service ranges (10.42.0.0/16, 10.43.0.0/16)");
  });
});
