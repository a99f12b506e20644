/**
 * Every PromQL expression of every dashboard of the dev, staging and prod stacks goes through the
 * real promtool: written as recording rules (one group per stack and dashboard, one rule per
 * target) and checked with `promtool check rules`, which parses each expression with Prometheus'
 * own parser (and its linter, warnings fatal). Grafana's variables are replaced by values of their
 * kind first (dashboardQueries).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { dashboardQueries, fleetDashboards, type DashboardQuery } from "../../infra/observability/dashboards";
import { stackConfig } from "../infra/support/stacks";
import { obsTools } from "./support/tools";

const STACKS = ["dev", "staging", "prod"] as const;
const dir = mkdtempSync(join(tmpdir(), "dashboards-promtool-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Group {
  name: string;
  queries: DashboardQuery[];
}

/** A rule file with one recording rule per query, and what each rule is (for failure messages). */
function ruleFile(groups: Group[]): { yaml: string; legend: string } {
  const legend: string[] = [];
  const yaml = stringify({
    groups: groups.map((g) => ({
      name: g.name,
      rules: g.queries.map((q) => {
        // Names unique across the file: promtool's linter reports duplicate rules.
        const record = `dashboard:query_${legend.length}`;
        legend.push(`${record} (${g.name}, ${q.panel} ${q.refId}): ${q.check}`);
        return { record, expr: q.check };
      }),
    })),
  });
  return { yaml, legend: legend.join("\n") };
}

function checkRules(file: string, yaml: string): { status: number | null; output: string } {
  const path = join(dir, file);
  writeFileSync(path, yaml);
  const r = spawnSync(obsTools().promtool, ["check", "rules", "--lint-fatal", path], { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("dashboard queries under promtool", () => {
  it.each(STACKS)("%s: every expression is valid PromQL", (stack) => {
    const groups = fleetDashboards(stackConfig(stack)).map((d) => ({
      name: `${stack}/${d.uid ?? "?"}`,
      queries: dashboardQueries(d),
    }));
    expect(groups.flatMap((g) => g.queries).length).toBeGreaterThan(20);
    const { yaml, legend } = ruleFile(groups);
    const { status, output } = checkRules(`${stack}.rules.yaml`, yaml);
    expect(status, `promtool check rules:\n${output}\nrules:\n${legend}`).toBe(0);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("fails on an expression promtool cannot parse (the check is real)", () => {
    const broken: DashboardQuery = { panel: "broken", refId: "A", expr: "", check: "sum by (pod (up)" };
    const { status, output } = checkRules(
      "broken.rules.yaml",
      ruleFile([{ name: "broken", queries: [broken] }]).yaml,
    );
    expect(status).not.toBe(0);
    expect(output).toMatch(/parse error|unexpected/i);
  });
});
