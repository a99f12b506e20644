/** ModelStore constructed alone under Pulumi mocks, one minimal Args per backend. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  claimSize,
  LOADER_SCRIPT,
  loaderManifest,
  ModelStore,
  validateModelStoreArgs,
  type ModelBackend,
  type ModelStoreArgs,
} from "../../../../infra/components/fleet/model-store";
import { NFS_SERVER_IMAGE } from "../../../../infra/components/fleet/model-store-backends";
import { promiseOf } from "../../../../infra/render/mocks";
import { K8S, named, namesOf, podSpecOf, underMocks } from "../../support/under-mocks";

const FILE = { name: "m.gguf", url: "https://models.example/m.gguf", sha256: "a".repeat(64) };

function args(backend: ModelBackend): ModelStoreArgs {
  return {
    namespace: "ns",
    backend,
    size: "20Gi",
    files: [FILE],
    loaderImage: "curl@sha256:" + "d".repeat(64),
  };
}

async function store(backend: ModelBackend) {
  return underMocks(async () => {
    const s = new ModelStore("models", args(backend));
    return { claimName: await promiseOf(s.claimName), annotations: s.podAnnotations };
  });
}

describe("ModelStore", () => {
  it("storage-class: one shared claim, filled by a checksum-verifying loader Job named after the file list", async () => {
    const { mocks, result } = await store({
      kind: "storage-class",
      storageClass: "nfs",
      accessMode: "ReadWriteMany",
    });
    expect(named(mocks, K8S.PersistentVolumeClaim, "models-claim").inputs).toMatchObject({
      metadata: { name: "models", namespace: "ns", annotations: { "pulumi.com/skipAwait": "true" } },
      spec: {
        accessModes: ["ReadWriteMany"],
        storageClassName: "nfs",
        resources: { requests: { storage: "20Gi" } },
      },
    });
    const manifest = `m.gguf ${"a".repeat(64)} https://models.example/m.gguf\n`;
    expect(named(mocks, K8S.ConfigMap, "models-loader-config").inputs.data).toEqual({
      manifest,
      "load.sh": LOADER_SCRIPT,
    });
    const job = named(mocks, K8S.Job, "models-loader");
    const digest = createHash("sha256").update(manifest).digest("hex").slice(0, 10);
    expect(job.inputs.metadata).toMatchObject({ name: `model-loader-${digest}` });
    const pod = podSpecOf(job);
    expect(pod.containers[0]).toMatchObject({
      image: "curl@sha256:" + "d".repeat(64),
      command: ["sh", "/etc/model-loader/load.sh"],
      securityContext: { readOnlyRootFilesystem: true },
    });
    expect(pod.volumes).toContainEqual({ name: "models", persistentVolumeClaim: { claimName: "models" } });
    expect(result).toEqual({ claimName: "models", annotations: {} });
  });

  it("filestore: its own StorageClass, the claim raised to the tier's minimum", async () => {
    const { mocks } = await store({ kind: "filestore", tier: "BASIC_SSD" });
    expect(named(mocks, K8S.StorageClass, "models-filestore").inputs).toMatchObject({
      metadata: { name: "agent-fleet-filestore" },
      provisioner: "filestore.csi.storage.gke.io",
      parameters: { tier: "premium" },
      reclaimPolicy: "Retain",
    });
    expect(named(mocks, K8S.PersistentVolumeClaim, "models-claim").inputs.spec).toMatchObject({
      storageClassName: "agent-fleet-filestore",
      resources: { requests: { storage: "2560Gi" } },
    });
  });

  it("hyperdisk-ml: the loader fills a staging disk; agents mount a read-only clone of its snapshot", async () => {
    const { mocks, result } = await store({ kind: "hyperdisk-ml", throughputMibps: 1200 });
    expect(named(mocks, K8S.StorageClass, "models-hyperdisk").inputs.parameters).toEqual({
      type: "hyperdisk-ml",
      "provisioned-throughput-on-create": "1200Mi",
    });
    expect(named(mocks, K8S.PersistentVolumeClaim, "models-staging").inputs.spec).toMatchObject({
      accessModes: ["ReadWriteOnce"],
    });
    expect(named(mocks, K8S.VolumeSnapshot, "models-snapshot").inputs.spec).toEqual({
      volumeSnapshotClassName: "agent-fleet-pd-snapshots",
      source: { persistentVolumeClaimName: "models-staging" },
    });
    expect(named(mocks, K8S.PersistentVolumeClaim, "models-claim").inputs.spec).toMatchObject({
      accessModes: ["ReadOnlyMany"],
      dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "models" },
    });
    expect(podSpecOf(named(mocks, K8S.Job, "models-loader")).volumes).toContainEqual({
      name: "models",
      persistentVolumeClaim: { claimName: "models-staging" },
    });
    expect(result.claimName).toBe("models");
  });

  it("gcs-fuse: a read-write and a read-only static volume on the bucket; pods get the FUSE annotation", async () => {
    const { mocks, result } = await store({ kind: "gcs-fuse", bucket: "fleet-models" });
    expect(named(mocks, K8S.PersistentVolume, "models-models-pv").inputs.spec).toMatchObject({
      accessModes: ["ReadOnlyMany"],
      csi: { driver: "gcsfuse.csi.storage.gke.io", volumeHandle: "fleet-models", readOnly: true },
      claimRef: { namespace: "ns", name: "models" },
    });
    expect(named(mocks, K8S.PersistentVolume, "models-models-writer-pv").inputs.spec).toMatchObject({
      accessModes: ["ReadWriteMany"],
      csi: { readOnly: false },
    });
    expect(result.annotations).toEqual({ "gke-gcsfuse/volumes": "true" });
  });

  it("hcloud-nfs: an NFS server on an hcloud volume in its own privileged namespace, reachable from nodes only", async () => {
    const { mocks } = await store({ kind: "hcloud-nfs", clientCidrs: ["10.0.0.0/16"] });
    expect(named(mocks, K8S.Namespace, "models-nfs-namespace").inputs.metadata).toMatchObject({
      name: "ns-storage",
      labels: { "pod-security.kubernetes.io/enforce": "privileged" },
    });
    const nfs = named(mocks, K8S.StatefulSet, "models-nfs");
    // NFS-Ganesha in userspace: two capabilities, never `privileged`.
    expect(podSpecOf(nfs).containers[0]).toMatchObject({
      image: NFS_SERVER_IMAGE,
      command: ["ganesha.nfsd", "-F", "-L", "/dev/stdout", "-f", "/etc/ganesha/ganesha.conf"],
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { add: ["DAC_READ_SEARCH", "SYS_RESOURCE"] },
        seccompProfile: { type: "RuntimeDefault" },
      },
      resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "2", memory: "1Gi" } },
    });
    expect(named(mocks, K8S.NetworkPolicy, "models-nfs-clients").inputs.spec).toMatchObject({
      ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/16" } }] }],
    });
    expect(named(mocks, K8S.PersistentVolume, "models-nfs-pv").inputs.spec).toMatchObject({
      nfs: { path: "/", server: expect.stringMatching(/^10\.96\.\d+\.\d+$/) as unknown },
      claimRef: { namespace: "ns", name: "models" },
    });
    expect(namesOf(mocks, K8S.PersistentVolumeClaim)).toEqual(["models-claim"]);
  });

  it("validates every file and the backend, each problem with its property path", () => {
    expect(() =>
      validateModelStoreArgs("models", {
        ...args({ kind: "storage-class", storageClass: "local-path", accessMode: "ReadOnlyMany" }),
        size: "lots",
        files: [FILE, { ...FILE, sha256: "ABC" }, { ...FILE, name: "a/b" }],
      }),
    ).toThrow(
      'ModelStore "models": backend.storageClass: "local-path" provisions ReadWriteOnce volumes that cannot be shared across nodes; use a class that supports ReadOnlyMany; ' +
        'files[1].name: "m.gguf" is listed twice; files[1].sha256: expected 64 lowercase hex characters; ' +
        'files[2].name: expected a plain file name (got "a/b"); ' +
        'size: "lots" is not a Kubernetes quantity (examples: 500m, 2, 8Gi, 1.5G)',
    );
  });

  it("pure helpers: claim sizes and the loader's manifest", () => {
    expect(claimSize({ backend: { kind: "filestore", tier: "BASIC_HDD" }, size: "50Gi" })).toBe("1024Gi");
    expect(claimSize({ backend: { kind: "filestore", tier: "BASIC_HDD" }, size: "2Ti" })).toBe("2Ti");
    expect(claimSize({ backend: { kind: "hcloud-nfs" }, size: "50Gi" })).toBe("50Gi");
    expect(loaderManifest([FILE, { ...FILE, name: "n.gguf" }])).toBe(
      `m.gguf ${"a".repeat(64)} https://models.example/m.gguf\nn.gguf ${"a".repeat(64)} https://models.example/m.gguf\n`,
    );
    // The script verifies before it renames into place.
    expect(LOADER_SCRIPT.indexOf("sha256sum -c")).toBeGreaterThan(0);
    expect(LOADER_SCRIPT.indexOf("sha256sum -c")).toBeLessThan(
      LOADER_SCRIPT.indexOf('mv -f ".$name.part" "$name"'),
    );
  });
});
