/**
 * The GitHub workflows against the repository they run in: what actionlint cannot know. Every
 * `npm run` script exists, every stack named has its Pulumi.<stack>.yaml, every local path a step
 * runs (scripts, the policy pack, local actions) exists, every third-party action is pinned to a
 * commit, `needs` names real jobs, and every job that runs `pulumi up` sits in a concurrency group
 * that queues instead of cancelling. Each check lists every problem it finds, with file and job.
 *
 * AGENT_FLEET_WORKFLOWS=<dir> checks the workflow files in another folder (a broken copy, say)
 * against this repository.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = join(__dirname, "../..");
const WORKFLOWS_DIR = resolve(ROOT, process.env.AGENT_FLEET_WORKFLOWS ?? ".github/workflows");
const ACTIONS_DIR = join(ROOT, ".github/actions");

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  concurrency?: string | { group?: string; "cancel-in-progress"?: boolean | string };
  strategy?: { matrix?: Record<string, unknown> };
  steps?: Step[];
  uses?: string;
}
interface Workflow {
  concurrency?: Job["concurrency"];
  jobs?: Record<string, Job>;
}
/** One workflow file, or a local composite action (its steps as a single pseudo-job). */
interface Source {
  file: string;
  workflow: Workflow;
}

function readYaml(path: string): unknown {
  return parse(readFileSync(path, "utf8"));
}

function sources(): Source[] {
  const workflows = readdirSync(WORKFLOWS_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({
      file: relative(ROOT, join(WORKFLOWS_DIR, f)),
      workflow: readYaml(join(WORKFLOWS_DIR, f)) as Workflow,
    }));
  const actions = existsSync(ACTIONS_DIR)
    ? readdirSync(ACTIONS_DIR)
        .map((d) => join(ACTIONS_DIR, d, "action.yml"))
        .filter((p) => existsSync(p))
        .map((p) => {
          const action = readYaml(p) as { runs?: { steps?: Step[] } };
          return {
            file: relative(ROOT, p),
            workflow: { jobs: { "(composite)": { steps: action.runs?.steps } } },
          };
        })
    : [];
  return [...workflows, ...actions];
}

/** Every step of every job, with where it is. */
function steps(): { where: string; job: string; step: Step }[] {
  return sources().flatMap(({ file, workflow }) =>
    Object.entries(workflow.jobs ?? {}).flatMap(([job, spec]) =>
      (spec.steps ?? []).map((step, i) => ({ where: `${file} jobs.${job}.steps[${i}]`, job, step })),
    ),
  );
}

/** Shell text of a run: step with backslash continuations joined, so one command is one line. */
function commands(run: string): string[] {
  return run.replace(/\\\n\s*/g, " ").split("\n");
}

function packageScripts(dir: string): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8")) as {
    scripts?: Record<string, string>;
  };
  return pkg.scripts ?? {};
}

/** A literal value (not an expression or a shell variable). */
function literal(value: string): boolean {
  return !value.includes("${{") && !value.startsWith("$") && !value.startsWith('"$');
}

const WORKSPACES = new Set(["agent-runtime", "policy"]);

describe("the GitHub workflows", () => {
  it("exist", () => {
    expect(readdirSync(WORKFLOWS_DIR).filter((f) => /\.ya?ml$/.test(f)).length).toBeGreaterThan(0);
  });

  it("run only npm scripts that package.json defines", () => {
    const problems: string[] = [];
    for (const { where, step } of steps()) {
      for (const line of commands(step.run ?? "")) {
        for (const m of line.matchAll(
          /\bnpm run\s+((?:-{1,2}[\w-]+\s+)*)([\w:.-]+)((?:\s+(?:-w|--workspace)\s+\S+)?)/g,
        )) {
          const script = m[2] ?? "";
          const workspace = /(?:-w|--workspace)\s+(\S+)/.exec(m[3] ?? "")?.[1];
          const dir = workspace ?? ".";
          if (workspace && !WORKSPACES.has(workspace)) {
            problems.push(`${where}: npm run ${script} -w ${workspace}: no such workspace`);
          } else if (!(script in packageScripts(dir))) {
            problems.push(
              `${where}: npm run ${script}: no script "${script}" in ${join(dir, "package.json")}`,
            );
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("name only stacks that have a Pulumi.<stack>.yaml", () => {
    const problems: string[] = [];
    const check = (where: string, stack: string) => {
      if (literal(stack) && !existsSync(join(ROOT, `Pulumi.${stack}.yaml`))) {
        problems.push(`${where}: stack "${stack}" has no Pulumi.${stack}.yaml in the repository root`);
      }
    };
    for (const { file, workflow } of sources()) {
      for (const [job, spec] of Object.entries(workflow.jobs ?? {})) {
        const matrix = spec.strategy?.matrix?.stack;
        if (Array.isArray(matrix)) {
          for (const stack of matrix) check(`${file} jobs.${job}.strategy.matrix.stack`, String(stack));
        }
      }
    }
    for (const { where, step } of steps()) {
      for (const line of commands(step.run ?? "")) {
        for (const m of line.matchAll(/--stack[= ]+("?[^\s"]+"?)/g))
          check(where, (m[1] ?? "").replace(/"/g, ""));
        for (const m of line.matchAll(/\.ci\/smoke\.sh\s+(\S+)/g)) check(where, m[1] ?? "");
      }
      for (const key of ["stack-name", "stack"]) {
        const value = step.with?.[key];
        if (typeof value === "string") check(`${where} with.${key}`, value);
      }
    }
    expect(problems).toEqual([]);
  });

  it("run only local files, policy packs and actions that exist", () => {
    const problems: string[] = [];
    const check = (where: string, path: string) => {
      if (literal(path) && !existsSync(join(ROOT, path))) problems.push(`${where}: ${path} does not exist`);
    };
    for (const { where, step } of steps()) {
      for (const line of commands(step.run ?? "")) {
        for (const m of line.matchAll(/\b(?:node|bash|sh)\s+((?:\.{1,2}\/)?[\w.-]+\/[\w./-]+)/g))
          check(where, m[1] ?? "");
      }
      const packs = step.with?.policyPacks;
      if (typeof packs === "string") {
        for (const pack of packs.split(/\s+/).filter(Boolean)) check(`${where} with.policyPacks`, pack);
      }
      if (step.uses?.startsWith("./")) {
        const dir = step.uses.replace(/\/$/, "");
        if (!existsSync(join(ROOT, dir, "action.yml")) && !existsSync(join(ROOT, dir, "action.yaml"))) {
          problems.push(`${where}: uses ${step.uses}: no action.yml there`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("pin every third-party action to a full commit SHA", () => {
    const problems: string[] = [];
    for (const { where, step } of steps()) {
      const uses = step.uses;
      if (!uses || uses.startsWith("./") || uses.startsWith("docker://")) continue;
      const ref = uses.split("@")[1];
      if (ref === undefined) problems.push(`${where}: ${uses} has no @ref`);
      else if (!/^[0-9a-f]{40}$/.test(ref)) {
        problems.push(`${where}: ${uses} is pinned to a movable ref; use @<commit sha> # <tag>`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("need only jobs that exist in the same workflow", () => {
    const problems: string[] = [];
    for (const { file, workflow } of sources()) {
      const jobs = workflow.jobs ?? {};
      for (const [job, spec] of Object.entries(jobs)) {
        const needs = spec.needs === undefined ? [] : [spec.needs].flat();
        for (const need of needs) {
          if (!(need in jobs)) {
            problems.push(
              `${file} jobs.${job}.needs: no job "${need}" (jobs: ${Object.keys(jobs).join(", ")})`,
            );
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("queue every job that runs pulumi up in a concurrency group, never cancelling it", () => {
    const problems: string[] = [];
    let ups = 0;
    for (const { file, workflow } of sources()) {
      for (const [job, spec] of Object.entries(workflow.jobs ?? {})) {
        const runsUp = (spec.steps ?? []).some(
          (s) =>
            (s.uses?.startsWith("pulumi/actions@") && ["up", "update"].includes(String(s.with?.command))) ||
            /\bpulumi up\b/.test(s.run ?? ""),
        );
        if (!runsUp) continue;
        ups++;
        const concurrency = spec.concurrency ?? workflow.concurrency;
        const group = typeof concurrency === "string" ? concurrency : concurrency?.group;
        const cancels =
          typeof concurrency === "object" && String(concurrency["cancel-in-progress"]) !== "false";
        if (!group) problems.push(`${file} jobs.${job}: runs pulumi up without a concurrency group`);
        else if (cancels) {
          problems.push(
            `${file} jobs.${job}: concurrency group "${group}" must set cancel-in-progress: false`,
          );
        }
      }
    }
    expect(ups).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });
});
