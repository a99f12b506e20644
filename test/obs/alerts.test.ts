/**
 * The alert rules against a real promtool: `check rules` on the rule file of every shipped stack
 * and of a small fixture config, and `test rules` with unit tests for every alert on the fixture
 * (support/alert-cases.ts): each fires when it should, with its labels and rendered annotations,
 * and stays quiet below its threshold, or when its condition has not lasted long enough.
 *
 * The promtool test files are generated from that TypeScript table rather than checked in as
 * YAML: the fixture config, the input series and the expected alerts sit side by side, and the
 * series' metric names are the runtime constants the rules read, so a rename cannot leave the
 * tests feeding series nobody reads. Each alert runs as its own promtool call, so a failure names
 * it; a failing run prints promtool's output and keeps its files (the path is in the message).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ALERT_NAMES, alertRuleGroups, ruleFileYaml } from "../../infra/observability/alerts";
import { stackConfig } from "../infra/support/stacks";
import { CASES, fixture, promtoolTests } from "./support/alert-cases";
import { obsTools } from "./support/tools";

const workDirs: string[] = [];
afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs promtool; a non-zero exit fails with its output and keeps the files it read. */
function promtool(args: string[], dir: string): string {
  const r = spawnSync(obsTools().promtool, args, { cwd: dir, encoding: "utf8", timeout: 60_000 });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) {
    workDirs.splice(workDirs.indexOf(dir), 1);
    throw new Error(`promtool ${args.join(" ")} exited with ${r.status} (files kept in ${dir}):\n${output}`);
  }
  return output;
}

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "alerts-"));
  workDirs.push(dir);
  return dir;
}

// ---------------------------------------------------------------- the tests

describe("promtool check rules", () => {
  it.each(["dev", "staging", "prod"])("the %s stack's rule file passes", (stack) => {
    const dir = workDir();
    writeFileSync(join(dir, "rules.yaml"), ruleFileYaml(alertRuleGroups(stackConfig(stack))));
    expect(promtool(["check", "rules", "rules.yaml"], dir)).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("the fixture's rule file passes", () => {
    const dir = workDir();
    writeFileSync(join(dir, "rules.yaml"), ruleFileYaml(alertRuleGroups(fixture)));
    expect(promtool(["check", "rules", "rules.yaml"], dir)).toMatch(/SUCCESS: \d+ rules found/);
  });
});

describe("promtool test rules: every alert fires when it should and only then", () => {
  it("every alert has cases, at least one firing and one quiet", () => {
    for (const alert of ALERT_NAMES) {
      expect(
        CASES[alert].some((c) => c.fires.length > 0),
        alert,
      ).toBe(true);
      expect(
        CASES[alert].some((c) => c.fires.length === 0),
        alert,
      ).toBe(true);
    }
  });

  it.each(ALERT_NAMES)("%s", (alert) => {
    const dir = workDir();
    writeFileSync(join(dir, "rules.yaml"), ruleFileYaml(alertRuleGroups(fixture)));
    writeFileSync(join(dir, "tests.yaml"), promtoolTests(alert, CASES[alert], "rules.yaml"));
    expect(promtool(["test", "rules", "tests.yaml"], dir)).toMatch(/SUCCESS/);
  });
});
