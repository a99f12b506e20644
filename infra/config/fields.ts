/**
 * The field schemas the stack config sections are built from: strict objects, whole numbers,
 * quantities, CIDRs, DNS labels, image references, resources and taints, each with an error
 * message that says what is allowed.
 */
import { z } from "zod";
import { isQuantity } from "../lib/quantity";

/** A strict object whose unknown-key error lists the keys that are allowed. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? `unknown key; allowed keys: ${allowed}` : undefined,
  });
}

export const wholeNumber = (min: number, max?: number) => {
  const base = z
    .number({ error: `expected a whole number >= ${min}` })
    .int(`expected a whole number >= ${min}`);
  const atLeast = base.min(min, `must be >= ${min}`);
  return max === undefined ? atLeast : atLeast.max(max, `must be <= ${max}`);
};

export const quantity = (what: "CPU" | "memory") =>
  z
    .string({
      error: `expected a ${what} quantity string such as ${what === "CPU" ? '"500m" or "2"' : '"2Gi"'}`,
    })
    .refine(isQuantity, {
      message: `expected a ${what} quantity such as ${what === "CPU" ? '"500m" or "2"' : '"512Mi" or "2Gi"'}`,
    });

export const cidr = z
  .string()
  .regex(/^(\d{1,3})(\.\d{1,3}){3}\/(\d|[12]\d|3[0-2])$/, 'expected an IPv4 CIDR such as "10.0.0.0/16"');

export const dnsLabel = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    "expected a DNS-1123 label (lowercase letters, digits, '-')",
  );

/** An image reference; `@sha256:` pinning is enforced where the config says "pinned". */
export const imageRef = z
  .string()
  .regex(/^[\w.\-/:]+(@sha256:[a-f0-9]{64})?$/, "expected an image reference");
export const pinnedImage = z
  .string()
  .regex(
    /^[\w.\-/:]+@sha256:[a-f0-9]{64}$/,
    "expected an image pinned by digest: <repository>[:tag]@sha256:<64 hex>",
  );

/** A top-level config key holding a secret value (`pulumi config set --secret agent-fleet:<key> ...`). */
export const secretKeyName = z
  .string()
  .regex(/^[a-z][A-Za-z0-9]*$/, "expected a config key name in camelCase, e.g. redisPassword");

export const resourcesSchema = strict({
  requests: strict({ cpu: quantity("CPU"), memory: quantity("memory") }).partial(),
  limits: strict({ cpu: quantity("CPU"), memory: quantity("memory") }).partial(),
}).partial();

export const fullResources = strict({
  requests: strict({ cpu: quantity("CPU"), memory: quantity("memory") }),
  limits: strict({ cpu: quantity("CPU"), memory: quantity("memory") }),
});

export const labels = z.record(z.string(), z.string());
export const taint = strict({
  key: z.string(),
  value: z.string(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
});
