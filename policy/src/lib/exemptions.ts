/**
 * The fleet's own, intended exceptions: the defaults of the `exempt` config of the policies they
 * concern. Each is an object ModelStore creates by design (infra/components/model-store.ts).
 */

/** The hcloud NFS model server runs privileged, as root, in its own `privileged` namespace. */
export const NFS_SERVER = "StatefulSet *-storage/models-nfs";

/** The namespace that NFS server lives in: labelled `enforce: privileged` on purpose. */
export const NFS_NAMESPACE = "Namespace *-storage";

/** The loader Job writes the model files, so it mounts the models claim read-write. */
export const MODEL_LOADER = "Job */model-loader-*";
