/**
 * Where ModelStore's shared volume comes from, per backend: the claim the loader writes into and
 * the claim agents mount read-only (the same one, unless the backend needs a read-only copy made
 * once the loader has run). Every resource is a child of the ModelStore.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ModelBackend, ModelStoreArgs } from "./model-store";
import { fleetLabels } from "./conventions";

/**
 * The hcloud-nfs backend's NFS server: NFS-Ganesha (a userspace NFS server) from the image
 * kubernetes-sigs maintain for nfs-ganesha-server-and-external-provisioner, v4.0.8, pinned by the
 * digest its published image reports (registry.k8s.io's multi-arch index).
 */
export const NFS_SERVER_IMAGE =
  "registry.k8s.io/sig-storage/nfs-provisioner:v4.0.8@sha256:c825f3d5e28bde099bd7a3daace28772d412c9157ad47fa752a9ad0baafc118d";

/**
 * Ganesha's configuration: NFSv4.1 only (no rpcbind or mountd), one export of the volume as the
 * pseudo root, readable and writable by the clients the NetworkPolicy admits. Grace is skipped on
 * start: the export has a single writer (the loader), and clients only read.
 */
export const GANESHA_CONFIG = `NFS_CORE_PARAM {
  Protocols = 4;
  NFS_Port = 2049;
}
NFSV4 {
  Graceless = true;
  Minor_Versions = 1, 2;
}
EXPORT {
  Export_Id = 1;
  Path = /exports;
  Pseudo = /;
  Access_Type = RW;
  Squash = No_Root_Squash;
  SecType = sys;
  FSAL { Name = VFS; }
}
`;

/** The hcloud-nfs backend's NFS server; the capacity report (infra/cost) counts its requests. */
export const NFS_SERVER_RESOURCES = {
  requests: { cpu: "250m", memory: "256Mi" },
  limits: { cpu: "2", memory: "1Gi" },
} as const;

export interface BackendClaims {
  /** The claim the loader Job writes into. */
  writer: k8s.core.v1.PersistentVolumeClaim;
  /** The claim agents mount, given the resource it must wait for (the loader). */
  reader: (loaded: pulumi.Resource) => pulumi.Output<string>;
}

/** Creates the backend's storage under `store`; `size` is the claim size (claimSize). */
export function backendClaims(
  store: pulumi.ComponentResource,
  name: string,
  args: ModelStoreArgs,
  size: string,
): BackendClaims {
  const child = { parent: store };
  const namespace = args.namespace;
  const labels = fleetLabels("models");
  const b = args.backend;
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
      { parent: store, dependsOn: deps },
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
          { parent: store, dependsOn: [after] },
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
      writerClaim = hcloudNfs(store, name, args, b, size);
      readerClaim = () => writerClaim.metadata.name;
      break;
    }
  }

  return { writer: writerClaim, reader: readerClaim };
}

/**
 * Hetzner volumes attach to one server only, so an NFS server serves one hcloud volume to every
 * node. NFS-Ganesha runs in userspace (no kernel nfsd, no `privileged`), but it serves files as
 * their owners and raises its file-descriptor limit: it adds DAC_READ_SEARCH and SYS_RESOURCE,
 * which neither `restricted` nor `baseline` allow, so it runs in its own namespace labelled
 * `privileged` and the fleet's namespace stays `restricted`.
 */
function hcloudNfs(
  store: pulumi.ComponentResource,
  name: string,
  args: ModelStoreArgs,
  b: Extract<ModelBackend, { kind: "hcloud-nfs" }>,
  size: string,
): k8s.core.v1.PersistentVolumeClaim {
  const child = { parent: store };
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
  const ports = [{ name: "nfs", port: 2049 }];
  const config = new k8s.core.v1.ConfigMap(
    `${name}-nfs-config`,
    { metadata: { name: "models-nfs", namespace, labels }, data: { "ganesha.conf": GANESHA_CONFIG } },
    child,
  );
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
                image: b.nfsImage ?? NFS_SERVER_IMAGE,
                // Ganesha itself, in the foreground, on the export above (not the image's provisioner).
                command: ["ganesha.nfsd", "-F", "-L", "/dev/stdout", "-f", "/etc/ganesha/ganesha.conf"],
                ports: ports.map((p) => ({ name: p.name, containerPort: p.port })),
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ["DAC_READ_SEARCH", "SYS_RESOURCE"] },
                  seccompProfile: { type: "RuntimeDefault" },
                },
                resources: NFS_SERVER_RESOURCES,
                volumeMounts: [
                  { name: "export", mountPath: "/exports" },
                  { name: "config", mountPath: "/etc/ganesha", readOnly: true },
                  { name: "state", mountPath: "/var/lib/nfs/ganesha" },
                  { name: "run", mountPath: "/var/run/ganesha" },
                ],
              },
            ],
            volumes: [
              { name: "config", configMap: { name: config.metadata.name } },
              { name: "state", emptyDir: {} },
              { name: "run", emptyDir: {} },
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
