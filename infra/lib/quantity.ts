/**
 * Kubernetes resource quantities ("500m", "2", "8Gi", "1.5G") as numbers, for the schema's
 * limits >= requests rule and the capacity report. Written here because the only library that
 * parses them (@kubernetes/client-node) is a large runtime client we would not otherwise ship.
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
const DECIMAL: Record<string, number> = { m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };

const QUANTITY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|m|k|M|G|T|P)?$/;

/** True when `value` is a quantity this module understands. */
export function isQuantity(value: string): boolean {
  return QUANTITY.test(value);
}

/** The quantity's value in base units (cores for CPU, bytes for memory). Throws on bad input. */
export function parseQuantity(value: string): number {
  const match = QUANTITY.exec(value);
  if (!match) throw new Error(`"${value}" is not a Kubernetes quantity (examples: 500m, 2, 8Gi, 1.5G)`);
  const [, digits, suffix = ""] = match;
  const scale = BINARY[suffix] ?? DECIMAL[suffix] ?? 1;
  return Number(digits) * scale;
}

export const GiB = 2 ** 30;
