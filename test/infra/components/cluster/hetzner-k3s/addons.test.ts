/** HetznerK3sAddons constructed alone under Pulumi mocks, with minimal Args: the inputs it registers. */
import { describe, expect, it } from "vitest";
import {
  autoscalerImageTag,
  hcloudClusterConfig,
  HetznerK3sAddons,
  validateHetznerK3sAddonsArgs,
  type HetznerK3sAddonsArgs,
} from "../../../../../infra/components/cluster/hetzner-k3s/addons";
import { agentCloudInit } from "../../../../../infra/components/cluster/hetzner-k3s/cloud-init";
import { named, ofType, underMocks } from "../../../support/under-mocks";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const SECRET = "kubernetes:core/v1:Secret";

const minimal: HetznerK3sAddonsArgs = {
  clusterName: "c",
  location: "fsn1",
  k3sVersion: "v1.32.2+k3s1",
  image: "ubuntu-24.04",
  hcloudToken: "hcloud-token",
  networkId: "42",
  workerFirewallId: "7",
  autoscaledPools: {},
};

describe("HetznerK3sAddons", () => {
  it("installs the CCM (pod range, private IPs) and the CSI driver on the control plane; no autoscaler without autoscaled pools", async () => {
    const { mocks } = await underMocks(() => new HetznerK3sAddons("addons", minimal));
    expect(named(mocks, SECRET, "addons-hcloud-secret").inputs).toMatchObject({
      metadata: { name: "hcloud", namespace: "kube-system" },
      stringData: { token: "hcloud-token", network: "42" },
    });
    expect(named(mocks, SECRET, "addons-hcloud-secret").secretKeys).toEqual(["stringData"]);
    expect(named(mocks, RELEASE, "addons-ccm").inputs).toMatchObject({
      chart: "hcloud-cloud-controller-manager",
      namespace: "kube-system",
      values: {
        networking: { enabled: true, clusterCIDR: "10.42.0.0/16" },
        env: { HCLOUD_LOAD_BALANCERS_LOCATION: { value: "fsn1" } },
        nodeSelector: { "node-role.kubernetes.io/control-plane": "true" },
      },
    });
    expect(named(mocks, RELEASE, "addons-csi").inputs).toMatchObject({
      chart: "hcloud-csi",
      values: { controller: { hcloudVolumeDefaultLocation: "fsn1" } },
    });
    expect(
      ofType(mocks, RELEASE)
        .map((r) => r.name)
        .sort(),
    ).toEqual(["addons-ccm", "addons-csi"]);
  });

  it("runs the autoscaler for an autoscaled pool, its version matching K3s's Kubernetes minor", async () => {
    const { mocks } = await underMocks(
      () =>
        new HetznerK3sAddons("addons", {
          ...minimal,
          sshKey: "ops",
          autoscaledPools: {
            gpu: {
              serverType: "ccx33",
              minNodes: 0,
              maxNodes: 4,
              labels: { "agent-fleet.io/pool": "gpu" },
              taints: [],
              cloudInit: "#cloud-config\n",
            },
          },
        }),
    );
    expect(named(mocks, RELEASE, "addons-autoscaler").inputs).toMatchObject({
      chart: "cluster-autoscaler",
      values: {
        image: { tag: "v1.32.0" },
        autoscalingGroups: [{ name: "c-gpu", minSize: 0, maxSize: 4, instanceType: "ccx33", region: "fsn1" }],
        extraEnv: { HCLOUD_NETWORK: "42", HCLOUD_FIREWALL: "7", HCLOUD_SSH_KEY: "ops" },
      },
    });
    const secret = named(mocks, SECRET, "addons-autoscaler-secret");
    expect(secret.inputs.metadata).toEqual({ name: "cluster-autoscaler-hcloud", namespace: "kube-system" });
    expect(secret.secretKeys).toEqual(["stringData"]);
  });

  it("validates with property paths", () => {
    expect(() =>
      validateHetznerK3sAddonsArgs("addons", {
        ...minimal,
        k3sVersion: "latest",
        autoscaledPools: {
          a: { serverType: "cpx41", minNodes: 3, maxNodes: 2, labels: {}, taints: [], cloudInit: "" },
        },
      }),
    ).toThrow(
      'HetznerK3sAddons "addons": k3sVersion: expected a K3s release such as "v1.33.5+k3s1" (got "latest"); ' +
        "autoscaledPools.a.minNodes: must be from 0 to maxNodes (2), got 3",
    );
  });

  it("derives the autoscaler version from K3s and encodes the cluster config", () => {
    expect(autoscalerImageTag("v1.33.5+k3s1")).toBe("v1.33.0");
    const cloudInit = agentCloudInit({
      k3sVersion: "v1.33.5+k3s1",
      serverUrl: "https://10.0.1.10:6443",
      agentToken: "tok",
      labels: { "agent-fleet.io/pool": "a" },
      taints: [],
    });
    const encoded = hcloudClusterConfig("c", "ubuntu-24.04", {
      a: {
        serverType: "cpx41",
        minNodes: 0,
        maxNodes: 2,
        labels: { "agent-fleet.io/pool": "a" },
        taints: [],
        cloudInit,
      },
    });
    expect(JSON.parse(Buffer.from(encoded, "base64").toString())).toEqual({
      imagesForArch: { amd64: "ubuntu-24.04", arm64: "ubuntu-24.04" },
      nodeConfigs: { "c-a": { cloudInit, labels: { "agent-fleet.io/pool": "a" }, taints: [] } },
    });
  });
});
