/** Seconds in a Prometheus duration of the form stack config admits ("90s", "5m", "1h"). */
export function durationSeconds(duration: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(duration);
  if (!match) throw new Error(`"${duration}" is not a duration such as "30s", "5m" or "1h"`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as "s" | "m" | "h"];
}
