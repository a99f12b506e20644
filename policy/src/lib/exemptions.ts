/**
 * The fleet's own, intended exceptions: the defaults of the `exempt` config of the policies they
 * concern. Each is an object ModelStore creates by design (infra/components/fleet/model-store.ts and model-store-backends.ts).
 */

/** The hcloud NFS model server runs privileged, as root, in its own `privileged` namespace. */
export const NFS_SERVER = "StatefulSet *-storage/models-nfs";

/** The namespace that NFS server lives in: labelled `enforce: privileged` on purpose. */
export const NFS_NAMESPACE = "Namespace *-storage";

/** The loader Job writes the model files, so it mounts the models claim read-write. */
export const MODEL_LOADER = "Job */model-loader-*";

/**
 * Namespaces the fleet creates for third-party charts whose pods need more than `restricted`:
 * Istio's control plane (its CNI node agent and gateways) and the monitoring stack (node-exporter
 * uses the host's network and PID namespaces). The charts' pods are Helm-managed, so the pod
 * policies do not see them either; the cluster's Pod Security admission is their check.
 */
export const THIRD_PARTY_NAMESPACES = ["Namespace istio-system", "Namespace monitoring"];
