/** The per-agent summary table render prints. */
import type { FleetConfig } from "../config/resolve";

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function agentSummary(config: FleetConfig): string {
  const hpa = config.autoscaling.mode === "hpa";
  const rows = Object.values(config.agents).map((a) => [
    a.name,
    a.enabled ? a.workload : "disabled",
    hpa ? `${a.minReplicas}-${a.maxReplicas}` : `${a.replicas} (fixed)`,
    `${a.requests.cpu}/${a.requests.memory}`,
    `${a.limits.cpu}/${a.limits.memory}`,
    a.nodePool,
    hpa ? `${a.backlogPerPod}/pod${a.cpuPercent !== undefined ? `, cpu ${a.cpuPercent}%` : ""}` : "-",
    config.runtime.executor === "echo"
      ? "echo"
      : a.model.kind === "local"
        ? `local ${a.model.file}`
        : a.model.name,
  ]);
  return formatTable(
    ["agent", "workload", "replicas", "requests", "limits", "node pool", "scale target", "model"],
    rows,
  );
}
