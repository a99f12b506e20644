import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GiB, parseQuantity } from "../lib/quantity";
import { FILESTORE_MIN_GIB, NODE_LOCAL_STORAGE_CLASSES } from "../lib/storage";
import { containerSecurityContext, fleetLabels, podSecurityContext, scratchVolume } from "./pod-security";

export interface ModelFile {
  /** File name on the volume. */
  name: string;
  /** http(s) URL to download from. */
  url: string;
  /** Expected sha256, 64 lowercase hex characters. */
  sha256: string;
}

/** Where the shared volume comes from. */
export type ModelBackend =
  | { kind: "storage-class"; storageClass: string; accessMode: "ReadOnlyMany" | "ReadWriteMany" }
  | { kind: "filestore"; tier: "BASIC_HDD" | "BASIC_SSD" | "ZONAL"; network?: pulumi.Input<string> }
  | { kind: "hyperdisk-ml"; throughputMibps: number }
  | { kind: "gcs-fuse"; bucket: string }
  | {
      kind: "hcloud-nfs";
      volumeStorageClass?: string;
      nfsImage?: string;
      /** Node addresses allowed to mount the export (the cluster's private network). Default 10.0.0.0/8. */
      clientCidrs?: string[];
    };

export interface ModelStoreArgs {
  namespace: pulumi.Input<string>;
  backend: ModelBackend;
  /** Size of the shared volume, a Kubernetes quantity. */
  size: string;
  files: ModelFile[];
  /** Loader image, pinned by digest; needs sh, curl and sha256sum (e.g. curlimages/curl). */
  loaderImage: pulumi.Input<string>;
}

const MOUNT = "/models";

/** Validates ModelStoreArgs; messages name the field. */
export function validateModelStoreArgs(args: ModelStoreArgs): void {
  const b = args.backend;
  if (b.kind === "storage-class" && NODE_LOCAL_STORAGE_CLASSES.has(b.storageClass)) {
    throw new Error(
      `ModelStoreArgs.backend.storageClass: "${b.storageClass}" provisions ReadWriteOnce volumes that cannot be shared across nodes; use a class that supports ${b.accessMode}`,
    );
  }
  const names = new Set<string>();
  args.files.forEach((f, i) => {
    if (!/^[\w.-]+$/.test(f.name))
      throw new Error(`ModelStoreArgs.files[${i}].name: expected a plain file name (got "${f.name}")`);
    if (!/^[a-f0-9]{64}$/.test(f.sha256))
      throw new Error(`ModelStoreArgs.files[${i}].sha256: expected 64 lowercase hex characters`);
    if (names.has(f.name)) throw new Error(`ModelStoreArgs.files[${i}].name: "${f.name}" is listed twice`);
    names.add(f.name);
  });
  parseQuantity(args.size);
}

/**
 * The loader script: for each `name sha256 url` line, skip a file whose verified checksum marker
 * matches; otherwise download to a temporary name, verify, then rename (atomic on one filesystem).
 */
export const LOADER_SCRIPT = `set -eu
cd ${MOUNT}
while read -r name sha url; do
  [ -n "$name" ] || continue
  if [ -f "$name" ] && [ "$(cat ".$name.sha256" 2>/dev/null || true)" = "$sha" ]; then
    echo "model $name: present and verified, nothing to do"; continue
  fi
  echo "model $name: downloading $url"
  rm -f ".$name.part"
  curl -fsSL --retry 5 --retry-delay 10 --connect-timeout 30 -o ".$name.part" "$url"
  if ! echo "$sha  .$name.part" | sha256sum -c - >/dev/null; then
    echo "model $name: sha256 mismatch (expected $sha, got $(sha256sum ".$name.part" | cut -d' ' -f1))" >&2
    rm -f ".$name.part"; exit 1
  fi
  mv -f ".$name.part" "$name"
  echo "$sha" > ".$name.sha256"
  echo "model $name: verified"
done < /etc/model-loader/manifest
`;

export function loaderManifest(files: ModelFile[]): string {
  return files.map((f) => `${f.name} ${f.sha256} ${f.url}\n`).join("");
}

/** The claim size: Filestore has a per-tier minimum instance size. */
export function claimSize(args: Pick<ModelStoreArgs, "backend" | "size">): string {
  if (args.backend.kind !== "filestore") return args.size;
  const min = FILESTORE_MIN_GIB[args.backend.tier];
  return parseQuantity(args.size) >= min * GiB ? args.size : `${min}Gi`;
}

/**
 * Shared, read-only model files: a PVC every model-backed agent mounts read-only, on the backend
 * config names, filled by a loader Job that verifies each file's sha256, writes atomically and is a
 * no-op when the verified file is already there. Agents depend on `loader`.
 */
export class ModelStore extends pulumi.ComponentResource {
  /** The claim agents mount read-only. */
  readonly claimName: pulumi.Output<string>;
  /** Pod annotations the backend needs on pods that mount the claim (GCS FUSE). */
  readonly podAnnotations: Record<string, string>;
  /** The loader Job (or the snapshot taken after it): depend on this before starting agents. */
  readonly ready: pulumi.Resource;

  constructor(name: string, args: ModelStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:k8s:ModelStore", name, {}, opts);
    validateModelStoreArgs(args);
    const child = { parent: this };
    const namespace = args.namespace;
    const labels = fleetLabels("models");
    const size = claimSize(args);
    const b = args.backend;
    this.podAnnotations = b.kind === "gcs-fuse" ? { "gke-gcsfuse/volumes": "true" } : {};

    const pvc = (
      role: string,
      claim: string,
      spec: k8s.types.input.core.v1.PersistentVolumeClaimSpec,
      deps: pulumi.Resource[] = [],
    ) =>
      new k8s.core.v1.PersistentVolumeClaim(
        `${name}-${role}`,
        // Pulumi would otherwise wait for binding, which WaitForFirstConsumer classes only do once a pod mounts it.
        {
          metadata: { name: claim, namespace, labels, annotations: { "pulumi.com/skipAwait": "true" } },
          spec,
        },
        { parent: this, dependsOn: deps },
      );

    // The claim the loader writes into, and the one agents read from (the same one unless the
    // backend needs a read-only copy).
    let writerClaim: k8s.core.v1.PersistentVolumeClaim;
    let readerClaim: (after: pulumi.Resource) => pulumi.Output<string>;
    switch (b.kind) {
      case "storage-class": {
        writerClaim = pvc("claim", "models", {
          accessModes: [b.accessMode === "ReadOnlyMany" ? "ReadOnlyMany" : "ReadWriteMany"],
          storageClassName: b.storageClass,
          resources: { requests: { storage: size } },
        });
        readerClaim = () => writerClaim.metadata.name;
        break;
      }
      case "filestore": {
        const tier = { BASIC_HDD: "standard", BASIC_SSD: "premium", ZONAL: "zonal" }[b.tier];
        const sc = new k8s.storage.v1.StorageClass(
          `${name}-filestore`,
          {
            metadata: { name: "agent-fleet-filestore", labels },
            provisioner: "filestore.csi.storage.gke.io",
            parameters: { tier, ...(b.network ? { network: b.network } : {}) },
            volumeBindingMode: "Immediate",
            allowVolumeExpansion: true,
            reclaimPolicy: "Retain",
          },
          child,
        );
        writerClaim = pvc("claim", "models", {
          accessModes: ["ReadWriteMany"],
          storageClassName: sc.metadata.name,
          resources: { requests: { storage: size } },
        });
        readerClaim = () => writerClaim.metadata.name;
        break;
      }
      case "hyperdisk-ml": {
        // Hyperdisk ML is written once (ReadWriteOnce), then attached read-only to many nodes:
        // the loader fills a staging disk, a snapshot is taken, and agents mount a ROX clone.
        const sc = new k8s.storage.v1.StorageClass(
          `${name}-hyperdisk`,
          {
            metadata: { name: "agent-fleet-hyperdisk-ml", labels },
            provisioner: "pd.csi.storage.gke.io",
            parameters: {
              type: "hyperdisk-ml",
              "provisioned-throughput-on-create": `${b.throughputMibps}Mi`,
            },
            volumeBindingMode: "WaitForFirstConsumer",
            allowVolumeExpansion: false,
            reclaimPolicy: "Delete",
          },
          child,
        );
        const snapshotClass = new k8s.apiextensions.CustomResource(
          `${name}-snapshot-class`,
          {
            apiVersion: "snapshot.storage.k8s.io/v1",
            kind: "VolumeSnapshotClass",
            metadata: { name: "agent-fleet-pd-snapshots", labels },
            driver: "pd.csi.storage.gke.io",
            deletionPolicy: "Delete",
          },
          child,
        );
        writerClaim = pvc("staging", "models-staging", {
          accessModes: ["ReadWriteOnce"],
          storageClassName: sc.metadata.name,
          resources: { requests: { storage: size } },
        });
        readerClaim = (after) => {
          const snapshot = new k8s.apiextensions.CustomResource(
            `${name}-snapshot`,
            {
              apiVersion: "snapshot.storage.k8s.io/v1",
              kind: "VolumeSnapshot",
              metadata: { name: "models", namespace, labels },
              spec: {
                volumeSnapshotClassName: snapshotClass.metadata.name,
                source: { persistentVolumeClaimName: writerClaim.metadata.name },
              },
            },
            { parent: this, dependsOn: [after] },
          );
          return pvc(
            "claim",
            "models",
            {
              accessModes: ["ReadOnlyMany"],
              storageClassName: sc.metadata.name,
              resources: { requests: { storage: size } },
              dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "models" },
            },
            [snapshot],
          ).metadata.name;
        };
        break;
      }
      case "gcs-fuse": {
        // Two static PVs on one bucket: a read-write one for the loader, a read-only one for agents.
        const pv = (role: string, readOnly: boolean) =>
          new k8s.core.v1.PersistentVolume(
            `${name}-${role}-pv`,
            {
              metadata: { name: pulumi.interpolate`${namespace}-${role}`, labels },
              spec: {
                accessModes: [readOnly ? "ReadOnlyMany" : "ReadWriteMany"],
                capacity: { storage: size },
                storageClassName: "",
                persistentVolumeReclaimPolicy: "Retain",
                mountOptions: ["implicit-dirs"],
                csi: { driver: "gcsfuse.csi.storage.gke.io", volumeHandle: b.bucket, readOnly },
                claimRef: { namespace, name: role },
              },
            },
            child,
          );
        const writerPv = pv("models-writer", false);
        const readerPv = pv("models", true);
        writerClaim = pvc("writer", "models-writer", {
          accessModes: ["ReadWriteMany"],
          storageClassName: "",
          volumeName: writerPv.metadata.name,
          resources: { requests: { storage: size } },
        });
        const reader = pvc("claim", "models", {
          accessModes: ["ReadOnlyMany"],
          storageClassName: "",
          volumeName: readerPv.metadata.name,
          resources: { requests: { storage: size } },
        });
        readerClaim = () => reader.metadata.name;
        break;
      }
      case "hcloud-nfs": {
        writerClaim = this.hcloudNfs(name, args, b, size);
        readerClaim = () => writerClaim.metadata.name;
        break;
      }
    }

    const manifest = loaderManifest(args.files);
    const digest = createHash("sha256").update(manifest).digest("hex").slice(0, 10);
    const config = new k8s.core.v1.ConfigMap(
      `${name}-loader-config`,
      { metadata: { name: "model-loader", namespace, labels }, data: { manifest, "load.sh": LOADER_SCRIPT } },
      child,
    );
    const tmp = scratchVolume();
    // Jobs are immutable: the name carries the manifest's digest, so a new file list is a new Job.
    const loader = new k8s.batch.v1.Job(
      `${name}-loader`,
      {
        metadata: { name: `model-loader-${digest}`, namespace, labels },
        spec: {
          backoffLimit: 3,
          template: {
            metadata: { labels, annotations: this.podAnnotations },
            spec: {
              restartPolicy: "OnFailure",
              automountServiceAccountToken: false,
              securityContext: podSecurityContext(),
              containers: [
                {
                  name: "loader",
                  image: args.loaderImage,
                  command: ["sh", "/etc/model-loader/load.sh"],
                  resources: {
                    requests: { cpu: "250m", memory: "256Mi" },
                    limits: { cpu: "1", memory: "512Mi" },
                  },
                  securityContext: containerSecurityContext(),
                  volumeMounts: [
                    { name: "models", mountPath: MOUNT },
                    { name: "loader", mountPath: "/etc/model-loader", readOnly: true },
                    tmp.mount,
                  ],
                },
              ],
              volumes: [
                { name: "models", persistentVolumeClaim: { claimName: writerClaim.metadata.name } },
                { name: "loader", configMap: { name: config.metadata.name } },
                tmp.volume,
              ],
            },
          },
        },
      },
      child,
    );
    this.claimName = readerClaim(loader);
    this.ready = loader;
    this.registerOutputs({ claimName: this.claimName });
  }

  /**
   * Hetzner volumes attach to one server only, so an NFS server serves one hcloud volume to every
   * node. It needs kernel NFS privileges, so it runs in its own namespace labelled `privileged`;
   * the fleet's namespace stays `restricted`.
   */
  private hcloudNfs(
    name: string,
    args: ModelStoreArgs,
    b: Extract<ModelBackend, { kind: "hcloud-nfs" }>,
    size: string,
  ): k8s.core.v1.PersistentVolumeClaim {
    const child = { parent: this };
    const labels = fleetLabels("models-nfs", { "app.kubernetes.io/name": "models-nfs" });
    const selector = { "app.kubernetes.io/name": "models-nfs" };
    const ns = new k8s.core.v1.Namespace(
      `${name}-nfs-namespace`,
      {
        metadata: {
          name: pulumi.interpolate`${args.namespace}-storage`,
          labels: { ...labels, "pod-security.kubernetes.io/enforce": "privileged" },
        },
      },
      child,
    );
    const namespace = ns.metadata.name;
    const ports = [
      { name: "nfs", port: 2049 },
      { name: "mountd", port: 20048 },
      { name: "rpcbind", port: 111 },
    ];
    new k8s.apps.v1.StatefulSet(
      `${name}-nfs`,
      {
        metadata: { name: "models-nfs", namespace, labels },
        spec: {
          replicas: 1,
          serviceName: "models-nfs",
          selector: { matchLabels: selector },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              containers: [
                {
                  name: "nfs",
                  image: b.nfsImage ?? "registry.k8s.io/volume-nfs:0.8",
                  ports: ports.map((p) => ({ name: p.name, containerPort: p.port })),
                  // The kernel NFS server needs these; the namespace is privileged for this pod alone.
                  securityContext: { privileged: true },
                  resources: {
                    requests: { cpu: "250m", memory: "256Mi" },
                    limits: { cpu: "2", memory: "1Gi" },
                  },
                  volumeMounts: [{ name: "export", mountPath: "/exports" }],
                },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: "export", labels },
              spec: {
                accessModes: ["ReadWriteOnce"],
                storageClassName: b.volumeStorageClass ?? "hcloud-volumes",
                resources: { requests: { storage: size } },
              },
            },
          ],
        },
      },
      child,
    );
    const service = new k8s.core.v1.Service(
      `${name}-nfs-service`,
      {
        metadata: { name: "models-nfs", namespace, labels },
        spec: { selector, ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name })) },
      },
      child,
    );
    // Only nodes (kubelets mount NFS from the host network) may reach the export; nothing else.
    new k8s.networking.v1.NetworkPolicy(
      `${name}-nfs-deny`,
      {
        metadata: { name: "default-deny", namespace, labels },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
      },
      child,
    );
    new k8s.networking.v1.NetworkPolicy(
      `${name}-nfs-clients`,
      {
        metadata: { name: "allow-nfs-from-nodes", namespace, labels },
        spec: {
          podSelector: { matchLabels: selector },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: (b.clientCidrs ?? ["10.0.0.0/8"]).map((cidr) => ({ ipBlock: { cidr } })),
              ports: ports.map((p) => ({ protocol: "TCP", port: p.port })),
            },
          ],
        },
      },
      child,
    );
    // Kubelets mount NFS from the host, where cluster DNS does not resolve: use the Service's IP.
    const pv = new k8s.core.v1.PersistentVolume(
      `${name}-nfs-pv`,
      {
        metadata: { name: pulumi.interpolate`${args.namespace}-models`, labels },
        spec: {
          accessModes: ["ReadWriteMany"],
          capacity: { storage: size },
          storageClassName: "",
          persistentVolumeReclaimPolicy: "Retain",
          mountOptions: ["nfsvers=4.1"],
          nfs: { server: service.spec.clusterIP, path: "/" },
          claimRef: { namespace: args.namespace, name: "models" },
        },
      },
      child,
    );
    return new k8s.core.v1.PersistentVolumeClaim(
      `${name}-claim`,
      {
        metadata: {
          name: "models",
          namespace: args.namespace,
          labels,
          annotations: { "pulumi.com/skipAwait": "true" },
        },
        spec: {
          accessModes: ["ReadWriteMany"],
          storageClassName: "",
          volumeName: pv.metadata.name,
          resources: { requests: { storage: size } },
        },
      },
      child,
    );
  }
}
