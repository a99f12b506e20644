/**
 * How a Kubernetes object is named in violation messages, and how `exempt` patterns in policy
 * config select objects. One format for both, so a pattern can be copied out of a message:
 * `Deployment agent-fleet/agent-python` (namespaced) or `Namespace agent-fleet` (cluster-scoped).
 */
import type { PolicyConfigSchema, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";

export interface ObjectMetadata {
  name?: string;
  namespace?: string;
}

/**
 * The namespace a namespaced object lands in when its inputs name none. The provider may be
 * configured with another default; the messages say `default` because that is what `kubectl` would.
 */
export const DEFAULT_NAMESPACE = "default";

/** `Kind namespace/name`; the Pulumi resource name stands in when metadata.name is not set. */
export function namespacedRef(
  kind: string,
  metadata: ObjectMetadata | undefined,
  fallbackName: string,
): string {
  return `${kind} ${metadata?.namespace ?? DEFAULT_NAMESPACE}/${metadata?.name ?? fallbackName}`;
}

/** `Kind name` for cluster-scoped objects. */
export function clusterRef(kind: string, metadata: ObjectMetadata | undefined, fallbackName: string): string {
  return `${kind} ${metadata?.name ?? fallbackName}`;
}

/** Policy config shared by every policy that can exempt objects. */
export interface ExemptConfig {
  /** Glob patterns (`*` matches anything) over object refs; a matching object is not checked. */
  exempt?: string[];
}

/** The `exempt` config property with this policy's defaults. */
export function exemptSchema(defaults: readonly string[]): PolicyConfigSchema {
  return {
    properties: {
      exempt: {
        type: "array",
        items: { type: "string" },
        default: [...defaults],
        description:
          'Objects this policy does not check: glob patterns over "Kind namespace/name" (namespaced) or "Kind name" (cluster-scoped), `*` matching any characters, e.g. "StatefulSet */models-nfs".',
      },
    },
  };
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

/** The first pattern that matches `ref`, if any. */
export function matchingPattern(ref: string, patterns: readonly string[]): string | undefined {
  return patterns.find((p) => globToRegExp(p).test(ref));
}

/**
 * The policy's `exempt` patterns: the engine fills config defaults from the schema, but a pack run
 * outside the engine (tests, an older CLI) may see none, so the defaults apply here too.
 */
export function exemptPatterns(
  args: Pick<ResourceValidationArgs | StackValidationArgs, "getConfig">,
  defaults: readonly string[],
): readonly string[] {
  return args.getConfig<ExemptConfig>().exempt ?? defaults;
}

/** Marks the policy not applicable to an exempt object (so it counts as neither passed nor failed). */
export function skipIfExempt(
  args: Pick<ResourceValidationArgs, "getConfig" | "notApplicable">,
  ref: string,
  defaults: readonly string[],
): void {
  const pattern = matchingPattern(ref, exemptPatterns(args, defaults));
  if (pattern !== undefined) args.notApplicable(`${ref} is exempt (policy config exempt: "${pattern}")`);
}
