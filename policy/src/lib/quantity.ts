/**
 * Kubernetes resource quantities ("500m", "2", "8Gi", "1.5G") as numbers, for limits >= requests.
 * infra/lib/quantity.ts does the same for the stack config, but the pack is loaded on its own by the
 * Pulumi CLI from policy/ and cannot reach into infra/; this copy also accepts exponents ("1e3") and
 * plain numbers, which manifests may carry.
 */

const SCALE: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

/** The quantity in base units (cores, bytes), or undefined when it is not a quantity. */
export function parseQuantity(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  const match = QUANTITY.exec(value.trim());
  if (!match) return undefined;
  const [, digits = "", suffix = ""] = match;
  return Number(digits) * (SCALE[suffix] ?? 1);
}
