import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArgsProblems } from "../../lib/args";
import { GiB, parseQuantity } from "../../lib/quantity";
import { FILESTORE_MIN_GIB, NODE_LOCAL_STORAGE_CLASSES } from "../../lib/storage";
import {
  containerSecurityContext,
  fleetLabels,
  MODEL_LOADER_NAME,
  podSecurityContext,
  scratchVolume,
} from "./conventions";
import { backendClaims } from "./model-store-backends";

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

/** Validates ModelStoreArgs; throws ComponentArgsError listing every problem by property path. */
export function validateModelStoreArgs(name: string, args: ModelStoreArgs): void {
  const problems = new ArgsProblems("ModelStore", name);
  const b = args.backend;
  if (b.kind === "storage-class" && NODE_LOCAL_STORAGE_CLASSES.has(b.storageClass)) {
    problems.add(
      "backend.storageClass",
      `"${b.storageClass}" provisions ReadWriteOnce volumes that cannot be shared across nodes; use a class that supports ${b.accessMode}`,
    );
  }
  const names = new Set<string>();
  args.files.forEach((f, i) => {
    if (!/^[\w.-]+$/.test(f.name))
      problems.add(`files[${i}].name`, `expected a plain file name (got "${f.name}")`);
    else if (names.has(f.name)) problems.add(`files[${i}].name`, `"${f.name}" is listed twice`);
    if (!/^[a-f0-9]{64}$/.test(f.sha256))
      problems.add(`files[${i}].sha256`, "expected 64 lowercase hex characters");
    names.add(f.name);
  });
  try {
    parseQuantity(args.size);
  } catch (e) {
    problems.add("size", (e as Error).message);
  }
  problems.throwIfAny();
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
    validateModelStoreArgs(name, args);
    const child = { parent: this };
    const namespace = args.namespace;
    const labels = fleetLabels("models");
    this.podAnnotations = args.backend.kind === "gcs-fuse" ? { "gke-gcsfuse/volumes": "true" } : {};

    const claims = backendClaims(this, name, args, claimSize(args));

    const manifest = loaderManifest(args.files);
    const digest = createHash("sha256").update(manifest).digest("hex").slice(0, 10);
    const config = new k8s.core.v1.ConfigMap(
      `${name}-loader-config`,
      {
        metadata: { name: MODEL_LOADER_NAME, namespace, labels },
        data: { manifest, "load.sh": LOADER_SCRIPT },
      },
      child,
    );
    const tmp = scratchVolume();
    // Jobs are immutable: the name carries the manifest's digest, so a new file list is a new Job.
    const loader = new k8s.batch.v1.Job(
      `${name}-loader`,
      {
        metadata: { name: `${MODEL_LOADER_NAME}-${digest}`, namespace, labels },
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
                { name: "models", persistentVolumeClaim: { claimName: claims.writer.metadata.name } },
                { name: "loader", configMap: { name: config.metadata.name } },
                tmp.volume,
              ],
            },
          },
        },
      },
      child,
    );
    this.claimName = claims.reader(loader);
    this.ready = loader;
    this.registerOutputs({ claimName: this.claimName });
  }
}
