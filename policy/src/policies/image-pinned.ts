import type { EnforcementLevel, ResourceValidationPolicy } from "@pulumi/policy";
import { exemptSchema, type ExemptConfig } from "../lib/refs";
import { containersOf, validateWorkloads } from "../lib/workloads";

interface ImagePinnedConfig extends ExemptConfig {
  /** Also flag images with a tag but no digest. */
  requireDigest?: boolean;
}

const DIGEST = /@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;

/** What is wrong with how `image` is referenced, if anything. */
export function imageProblem(image: string, requireDigest: boolean): string | undefined {
  if (image.includes("@")) return DIGEST.test(image) ? undefined : `image "${image}" has a malformed digest`;
  // A colon after the last slash starts a tag; one before it belongs to a registry host:port.
  const colon = image.lastIndexOf(":");
  const tag = colon > image.lastIndexOf("/") ? image.slice(colon + 1) : undefined;
  if (tag === undefined) return `image "${image}" has no tag, so it means :latest`;
  if (tag === "latest") return `image "${image}" uses the :latest tag`;
  if (requireDigest) return `image "${image}" is not pinned by digest`;
  return undefined;
}

/** Images are pinned by digest, or at least carry a tag other than `latest`. */
export function imagePinned(level: EnforcementLevel = "advisory"): ResourceValidationPolicy {
  return {
    name: "workload-image-pinned",
    description:
      "Container images are pinned by digest (name@sha256:...), or at least carry a tag other than latest; with requireDigest every image needs a digest.",
    enforcementLevel: level,
    severity: "medium",
    configSchema: {
      properties: {
        ...exemptSchema([]).properties,
        requireDigest: {
          type: "boolean",
          default: false,
          description: "Flag images that have a tag but no digest as well.",
        },
      },
    },
    validateResource: validateWorkloads(({ ref, pod }, report, args) => {
      const requireDigest = args.getConfig<ImagePinnedConfig>().requireDigest ?? false;
      for (const { container, label } of containersOf(pod)) {
        if (container.image === undefined || container.image.trim() === "") {
          report(
            `${ref}, ${label}: no image is set. The API server rejects a container without an image, so the rollout fails. Set the image, by digest (name@sha256:...).`,
          );
          continue;
        }
        const problem = imageProblem(container.image, requireDigest);
        if (problem !== undefined) {
          report(
            `${ref}, ${label}: ${problem}. A tag can be moved to other content, so two pods of one rollout can run different code, a rollback may not restore what ran before, and preview cannot show an image change. Reference the image by digest (name@sha256:...).`,
          );
        }
      }
    }),
  };
}
