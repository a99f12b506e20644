/** StorageClasses whose volumes attach to one node at a time (ReadWriteOnce only): never shareable. */
export const NODE_LOCAL_STORAGE_CLASSES: ReadonlySet<string> = new Set([
  "standard",
  "standard-rwo",
  "premium-rwo",
  "balanced-rwo",
  "local-path",
  "hostpath",
  "hcloud-volumes",
  "gp2",
  "gp3",
  "do-block-storage",
  "managed-csi",
  "default",
]);

/** Smallest Filestore instance per tier (GiB), from the Filestore service tiers documentation. */
export const FILESTORE_MIN_GIB: Record<"BASIC_HDD" | "BASIC_SSD" | "ZONAL", number> = {
  BASIC_HDD: 1024,
  BASIC_SSD: 2560,
  ZONAL: 1024,
};
