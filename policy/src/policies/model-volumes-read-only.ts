import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { MODEL_LOADER } from "../lib/exemptions";
import { exemptSchema, type ExemptConfig } from "../lib/refs";
import { containersOf, validateWorkloads } from "../lib/workloads";

interface ModelVolumesConfig extends ExemptConfig {
  /** Claims whose name starts with this hold shared model files. */
  claimPrefix?: string;
}

const DEFAULT_CLAIM_PREFIX = "models";

const WHY =
  "Every model-backed agent shares one copy of the model files; a pod that can write them can corrupt or swap the model under all the others, after the loader verified its checksum.";

/** Shared model volumes are mounted read-only, at the volume and at every mount. */
export function modelVolumesReadOnly(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  const exempt = [MODEL_LOADER];
  return {
    name: "workload-model-volumes-read-only",
    description:
      'Volumes backed by a PersistentVolumeClaim whose name starts with "models" are read-only: persistentVolumeClaim.readOnly and every volumeMount of them readOnly (the loader Job is exempt).',
    enforcementLevel: level,
    severity: "high",
    configSchema: {
      properties: {
        ...exemptSchema(exempt).properties,
        claimPrefix: {
          type: "string",
          default: DEFAULT_CLAIM_PREFIX,
          description: "Claims whose name starts with this hold shared model files.",
        },
      },
    },
    validateResource: validateWorkloads(({ ref, pod }, report, args) => {
      const prefix = args.getConfig<ModelVolumesConfig>().claimPrefix ?? DEFAULT_CLAIM_PREFIX;
      const modelVolumes = new Map<string, string>();
      for (const volume of pod.volumes ?? []) {
        const claim = volume.persistentVolumeClaim;
        if (claim === undefined || !claim.claimName.startsWith(prefix)) continue;
        modelVolumes.set(volume.name, claim.claimName);
        if (claim.readOnly !== true) {
          report(
            `${ref}, volume "${volume.name}": persistentVolumeClaim "${claim.claimName}" is not readOnly. ${WHY} Set persistentVolumeClaim.readOnly: true.`,
          );
        }
      }
      for (const { container, label } of containersOf(pod)) {
        for (const mount of container.volumeMounts ?? []) {
          const claimName = modelVolumes.get(mount.name);
          if (claimName !== undefined && mount.readOnly !== true) {
            report(
              `${ref}, ${label}: volumeMount "${mount.name}" at ${mount.mountPath} (claim "${claimName}") is not readOnly. ${WHY} Set readOnly: true on the mount.`,
            );
          }
        }
      }
    }, exempt),
  };
}
