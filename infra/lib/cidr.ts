/**
 * IPv4 CIDR arithmetic for the cluster backends: static private addresses for control-plane
 * servers, overlap checks between the ranges a stack configures, and the gateway of a network.
 */

export interface Ipv4Range {
  /** First address as an unsigned 32-bit number. */
  start: number;
  /** Last address (inclusive). */
  end: number;
  prefix: number;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses "10.0.1.0/24". Throws on anything else, host bits set included. */
export function parseCidr(cidr: string): Ipv4Range {
  const m = CIDR.exec(cidr);
  if (!m) throw new Error(`"${cidr}" is not an IPv4 CIDR such as 10.0.0.0/16`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) throw new Error(`"${cidr}" is not an IPv4 CIDR`);
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) {
    throw new Error(
      `"${cidr}" has host bits set; the network address is ${formatIp(address - (address % size))}`,
    );
  }
  return { start: address, end: address + size - 1, prefix };
}

export function formatIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** The n-th address of a CIDR (0 = the network address). Throws when n is outside the range. */
export function hostInCidr(cidr: string, n: number): string {
  const r = parseCidr(cidr);
  if (n < 0 || r.start + n > r.end) throw new Error(`address #${n} is outside ${cidr}`);
  return formatIp(r.start + n);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  return i.start >= o.start && i.end <= o.end;
}

/** True when the two ranges share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.start <= y.end && y.start <= x.end;
}
