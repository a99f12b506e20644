/** Plain-text rendering of a CapacityPlan (the `npm run cost` output). */
import { amountText, type CapacityPlan, type PoolPlan } from "./capacity";

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const money = (n: number | undefined) => (n === undefined ? "n/a" : n.toFixed(2));

function poolRow(p: PoolPlan): string[] {
  const nodes = (n?: number) => (n === undefined ? "-" : String(n));
  return [
    p.pool,
    p.nodeType ?? "-",
    p.budget ? amountText(p.budget.allocatable) : "-",
    `${p.min.pods} / ${p.max.pods}`,
    amountText(p.min.requests),
    amountText(p.max.requests),
    `${nodes(p.min.nodes)} / ${nodes(p.max.nodes)}`,
    p.bounds ? `${p.bounds.minNodes}-${p.bounds.maxNodes}` : "-",
    money(p.nodeMonthly),
    money(p.min.monthly),
    money(p.max.monthly),
  ];
}

export function formatPlan(stack: string, plan: CapacityPlan, details = false): string {
  const out: string[] = [`capacity and cost of stack ${stack} (cluster.provider ${plan.provider})`];
  if (plan.prices) {
    out.push(`prices: ${plan.prices.currency} per month, list prices as of ${plan.prices.asOf}`);
    out.push(...plan.prices.sources.map((s) => `  source: ${s}`));
    out.push(`  note: ${plan.prices.caveat}`);
  } else {
    out.push("prices: none (an existing cluster: its nodes are not ours to price); requests only");
  }
  out.push("");
  const cur = plan.prices?.currency ?? "";
  const header = [
    "pool",
    "node type",
    "allocatable/node",
    "pods min/max",
    "requests at min",
    "requests at max",
    "nodes min/max",
    "bounds",
    `${cur}/node`,
    `${cur} at min`,
    `${cur} at max`,
  ];
  // An existing cluster has no node types or prices: show the requests only.
  const keep = (row: string[]) => (plan.prices ? row : [row[0] ?? "", ...row.slice(3, 6)]);
  out.push(table([keep(header), ...plan.pools.map((p) => keep(poolRow(p)))]));
  if (details) {
    for (const p of plan.pools) {
      out.push("", `pool ${p.pool}:`);
      out.push(
        table(
          p.groups.map((g) => [
            `  ${g.name}`,
            `${g.min}-${g.max} pods`,
            amountText(g.perPod),
            g.parts.join(" + "),
          ]),
        ),
      );
      if (p.budget) {
        out.push(
          `  per node: capacity ${amountText(p.budget.capacity)} - reserved ${amountText(p.budget.reserved)}` +
            ` - daemonsets ${amountText(p.budget.daemonsets)} = allocatable ${amountText(p.budget.allocatable)}`,
        );
      }
    }
  }
  if (plan.fixed.length) {
    out.push("");
    for (const f of plan.fixed) out.push(`fixed: ${f.item}: ${money(f.monthly)} ${cur}/month`);
  }
  if (plan.total) {
    out.push(
      `total: ${money(plan.total.min)} ${cur}/month at min scale, ${money(plan.total.max)} ${cur}/month at max scale`,
    );
  }
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  for (const p of plan.problems) out.push(`PROBLEM: ${p}`);
  return out.join("\n");
}
