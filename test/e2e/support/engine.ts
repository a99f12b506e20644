/**
 * The real Pulumi engine for the e2e suite: the CLI and the provider plugins toolchain.sh builds
 * from Go modules, driven through the Automation API with an inline program that runs
 * `deployStack()` — the function `infra/program/main.ts` runs under `pulumi up` — so no Node.js language
 * host is needed (the test process serves the program to the CLI). State lives in a file backend
 * and secrets are encrypted by a passphrase provider, both in a temporary folder.
 *
 * The one thing the e2e suite adds to the program: `pulumi.com/skipAwait` on the kinds whose readiness
 * needs a kubelet (its control plane has none: pods are stored and never start), so the provider does
 * not wait for ready replicas, completed Jobs or Service endpoints that cannot come. Everything else —
 * including the Namespace's deletion, which the namespace controller finishes — is awaited as in
 * production. The node suite (test/node), whose pods run, adds nothing: every await is on.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  LocalWorkspace,
  PulumiCommand,
  type EngineEvent,
  type OpType,
  type PolicyEvent,
  type Stack,
  type StepEventMetadata,
} from "@pulumi/pulumi/automation";
import { vi } from "vitest";
import { parseDocument } from "yaml";
import { POLICY_PACK_DIR } from "../../support/policy-pack";

const ROOT = join(__dirname, "../../..");
export const PROJECT = "agent-fleet";
/** The policy pack as an executable analyzer (no language host needed): policy/bin/analyzer. */
export const POLICY_PACK = join(POLICY_PACK_DIR, "bin/analyzer");

/** Kinds whose readiness only a kubelet (running pods) can bring about. */
const AWAITS_A_KUBELET = new Set([
  "kubernetes:apps/v1:Deployment",
  "kubernetes:apps/v1:StatefulSet",
  "kubernetes:batch/v1:Job",
  "kubernetes:core/v1:Service",
]);

/** The transform the suite adds: skipAwait where no kubelet exists to make a resource ready. */
function skipAwaitWithoutKubelet(
  args: pulumi.ResourceTransformArgs,
): pulumi.ResourceTransformResult | undefined {
  if (!AWAITS_A_KUBELET.has(args.type)) return undefined;
  const props = args.props as { metadata?: { annotations?: Record<string, unknown> } };
  return {
    props: {
      ...args.props,
      metadata: {
        ...props.metadata,
        annotations: { ...props.metadata?.annotations, "pulumi.com/skipAwait": "true" },
      },
    },
    opts: args.opts,
  };
}

export interface EngineTools {
  /** Folder with the `pulumi` CLI (toolchain.sh's bin). */
  binDir: string;
  /** The provider plugins toolchain.sh installed (kubernetes, the random stand-in). */
  pluginsDir: string;
}

/** What one engine operation did, read from its event stream. */
export interface OperationReport {
  /** Every step the engine took or planned, in order (resourcePreEvent). */
  steps: StepEventMetadata[];
  /** Policy violations the pack reported. */
  policies: PolicyEvent[];
  /** The engine's summary of operations by kind. */
  changes: Partial<Record<OpType, number>>;
  /** Resources the program registered (custom and component; not the stack or default providers). */
  registered: number;
}

/** A stack operation's failure, with everything the engine printed. */
export class EngineError extends Error {
  constructor(
    readonly operation: string,
    readonly output: string,
    readonly report: OperationReport,
  ) {
    super(`pulumi ${operation} failed:\n${output}`);
  }
}

/** A resource as the checkpoint records it (the fields the suite reads). */
export interface StateResource {
  urn: string;
  type: string;
  inputs?: { metadata?: { name?: string; namespace?: string } };
}

/** One piece of what the engine printed or sent, for secret scans. */
export interface TranscriptEntry {
  /** "<operation> stdout" / "<operation> stderr" / "<operation> event", or "... debug event". */
  source: string;
  text: string;
}

export class EngineStack {
  /** Everything the engine printed and every event it sent, across operations. */
  readonly transcript: TranscriptEntry[] = [];

  private constructor(
    readonly stack: Stack,
    readonly workDir: string,
    private readonly counter: { registered: number },
  ) {}

  /**
   * A new stack `stackName` in `workDir`: the project file, the stack file `stackFile` (as text),
   * a file backend, a passphrase secrets provider and a PULUMI_HOME whose plugins are the
   * toolchain's (automatic plugin downloads off: a missing plugin fails instead).
   */
  static async create(
    tools: EngineTools,
    workDir: string,
    stackName: string,
    stackFile: string,
    options: { kubelet?: boolean } = {},
  ): Promise<EngineStack> {
    const home = join(workDir, "pulumi-home");
    const state = join(workDir, "state");
    mkdirSync(home, { recursive: true });
    mkdirSync(state, { recursive: true });
    symlinkSync(tools.pluginsDir, join(home, "plugins"));
    // The project file, minus `main:`: the inline program is the program (the CLI checks the path).
    const project = parseDocument(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8"));
    project.delete("main");
    writeFileSync(join(workDir, "Pulumi.yaml"), project.toString());
    writeFileSync(join(workDir, `Pulumi.${stackName}.yaml`), stackFile);

    const counter = { registered: 0 };
    const program = async () => {
      // A fresh evaluation of the program's modules for every operation, as each `pulumi up` is a
      // new process; @pulumi/* stay the instances the Automation API runs the program with.
      vi.resetModules();
      const { deployStack } = await import("../../../infra/program/stack.js");
      counter.registered = 0;
      pulumi.runtime.registerResourceTransform((args) => {
        counter.registered++;
        return options.kubelet ? undefined : skipAwaitWithoutKubelet(args);
      });
      return deployStack();
    };
    const pulumiCommand = await PulumiCommand.get({ root: join(tools.binDir, "..") });
    const stack = await LocalWorkspace.createStack(
      { stackName, projectName: PROJECT, program },
      {
        workDir,
        pulumiCommand,
        pulumiHome: home,
        secretsProvider: "passphrase",
        envVars: {
          PULUMI_BACKEND_URL: `file://${state}`,
          PULUMI_CONFIG_PASSPHRASE: "agent-fleet-e2e",
          PULUMI_SKIP_UPDATE_CHECK: "true",
          PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
          PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
        },
      },
    );
    return new EngineStack(stack, workDir, counter);
  }

  /** Rewrites the stack file (as an operator edits Pulumi.<stack>.yaml), keeping the engine's keys. */
  editStackFile(edit: (doc: ReturnType<typeof parseDocument>) => void): void {
    const file = join(this.workDir, `Pulumi.${this.stack.name}.yaml`);
    const doc = parseDocument(readFileSync(file, "utf8"));
    edit(doc);
    writeFileSync(file, doc.toString());
  }

  preview(opts: { expectNoChanges?: boolean; policyPackConfig?: object } = {}): Promise<OperationReport> {
    return this.run(
      "preview",
      (onEvent, policy) =>
        this.stack.preview({
          onEvent,
          diff: true,
          ...policy,
          ...(opts.expectNoChanges ? { expectNoChanges: true } : {}),
        }),
      opts.policyPackConfig,
    );
  }

  up(): Promise<OperationReport> {
    return this.run("up", (onEvent, policy) => this.stack.up({ onEvent, diff: true, ...policy }));
  }

  refresh(opts: { expectNoChanges?: boolean } = {}): Promise<OperationReport> {
    return this.run("refresh", (onEvent) =>
      this.stack.refresh({ onEvent, ...(opts.expectNoChanges ? { expectNoChanges: true } : {}) }),
    );
  }

  destroy(): Promise<OperationReport> {
    return this.run("destroy", (onEvent) => this.stack.destroy({ onEvent }));
  }

  /**
   * The stack's state as the backend stores it (the file backend's checkpoint). Not the Automation
   * API's exportStack(), which runs `pulumi stack export --show-secrets`, decrypting every secret.
   */
  stateAtRest(): { text: string; resources: StateResource[] } {
    const dir = join(this.workDir, "state", ".pulumi", "stacks", PROJECT);
    const text = readFileSync(join(dir, `${this.stack.name}.json`), "utf8");
    const checkpoint = JSON.parse(text) as { checkpoint?: { latest?: { resources?: StateResource[] } } };
    return { text, resources: checkpoint.checkpoint?.latest?.resources ?? [] };
  }

  private async run(
    operation: string,
    call: (
      onEvent: (e: EngineEvent) => void,
      policy: { policyPacks: string[]; policyPackConfigs?: string[] },
    ) => Promise<{ stdout: string; stderr: string }>,
    policyPackConfig?: object,
  ): Promise<OperationReport> {
    const report: OperationReport = { steps: [], policies: [], changes: {}, registered: 0 };
    const onEvent = (e: EngineEvent) => {
      // The event log also carries debug diagnostics, which the SDK's typings do not list.
      const debug = (e.diagnosticEvent?.severity as string | undefined) === "debug";
      this.transcript.push({
        source: `${operation} ${debug ? "debug event" : "event"}`,
        text: JSON.stringify(e),
      });
      if (e.resourcePreEvent) report.steps.push(e.resourcePreEvent.metadata);
      if (e.policyEvent) report.policies.push(e.policyEvent);
      if (e.summaryEvent) report.changes = e.summaryEvent.resourceChanges;
    };
    const policy: { policyPacks: string[]; policyPackConfigs?: string[] } = { policyPacks: [POLICY_PACK] };
    if (policyPackConfig) {
      const file = join(this.workDir, `policy-config-${operation}.json`);
      writeFileSync(file, JSON.stringify(policyPackConfig));
      policy.policyPackConfigs = [file];
    }
    try {
      const result = await call(onEvent, policy);
      this.transcript.push(
        { source: `${operation} stdout`, text: result.stdout },
        { source: `${operation} stderr`, text: result.stderr },
      );
    } catch (err) {
      const output = err instanceof Error ? err.message : String(err);
      this.transcript.push({ source: `${operation} output (failed)`, text: output });
      report.registered = this.counter.registered;
      throw new EngineError(operation, output, report);
    }
    report.registered = this.counter.registered;
    return report;
  }
}
