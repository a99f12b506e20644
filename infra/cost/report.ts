/** Renderings of a CapacityPlan: plain text (`npm run cost`) and Markdown (the PR comment). */
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

/** The pool table's header and rows; an existing cluster has no node types or prices: requests only. */
function poolTable(plan: CapacityPlan): string[][] {
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
  const keep = (row: string[]) => (plan.prices ? row : [row[0] ?? "", ...row.slice(3, 6)]);
  return [keep(header), ...plan.pools.map((p) => keep(poolRow(p)))];
}

function markdownTable(rows: string[][]): string {
  const line = (r: string[]) => `| ${r.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  const [head, ...body] = rows;
  if (!head) return "";
  return [line(head), line(head.map(() => "---")), ...body.map(line)].join("\n");
}

const signed = (n: number) => `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(2)}`;

/** What the PR comment compares against: the base branch's plan, or why there is none. */
export type Baseline = { plan: CapacityPlan } | { missing: string };

/**
 * The PR comment: totals at min and max scale with the change against the base branch, the pool
 * table, fixed costs, and every warning and problem.
 */
export function formatPlanMarkdown(stack: string, plan: CapacityPlan, baseline?: Baseline): string {
  const cur = plan.prices?.currency ?? "";
  const out: string[] = [];
  if (plan.total) {
    const rows = [
      ["", `${cur}/month at min scale`, `${cur}/month at max scale`],
      ["this branch", money(plan.total.min), money(plan.total.max)],
    ];
    if (baseline && "plan" in baseline && baseline.plan.total) {
      const base = baseline.plan.total;
      rows.push(["base branch", money(base.min), money(base.max)]);
      rows.push(["change", signed(plan.total.min - base.min), signed(plan.total.max - base.max)]);
    }
    out.push(markdownTable(rows));
  } else {
    out.push(
      `No cost for stack \`${stack}\`: ${plan.prices ? "a price is missing" : "an existing cluster is not ours to price"}; requests only.`,
    );
  }
  if (baseline && "missing" in baseline) out.push("", `Base branch: ${baseline.missing}.`);
  else if (baseline && !baseline.plan.total && plan.total) out.push("", "Base branch: no total to compare.");
  out.push("", markdownTable(poolTable(plan)));
  for (const f of plan.fixed) out.push("", `Fixed: ${f.item}: ${money(f.monthly)} ${cur}/month`);
  if (plan.prices)
    out.push(
      "",
      `<sub>${plan.prices.currency} list prices as of ${plan.prices.asOf}; ${plan.prices.caveat}</sub>`,
    );
  for (const w of plan.warnings) out.push("", `⚠️ ${w}`);
  for (const p of plan.problems) out.push("", `❌ **${p}**`);
  return out.join("\n");
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
  out.push(table(poolTable(plan)));
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
