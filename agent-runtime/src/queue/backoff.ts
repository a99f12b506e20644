/** Retry delays: capped exponential backoff with "equal jitter" (half fixed, half random). */

export interface BackoffOptions {
  /** Delay before the second delivery (default 1 s). */
  baseMs: number;
  /** Cap on the un-jittered delay (default 5 min). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 300_000 };

/**
 * Delay after the `deliveries`-th delivery failed: with d = min(maxMs, baseMs × 2^(deliveries−1)),
 * a value in [d/2, d]. The fixed half keeps retries from hammering a struggling backend; the random
 * half spreads a burst of failures out.
 */
export function retryDelayMs(
  deliveries: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, deliveries - 1);
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(exponent, 52));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The [min, max] bounds of retryDelayMs for a delivery number (for tests and docs). */
export function retryDelayBounds(
  deliveries: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
): [number, number] {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(Math.max(0, deliveries - 1), 52));
  return [Math.round(ceiling / 2), Math.round(ceiling)];
}
