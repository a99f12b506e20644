/** Helpers for the cluster backend tests: run a program under recording mocks and query what it registered. */
import { parse } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks } from "../../../infra/render/mocks";

export { named, ofType } from "./under-mocks";

/**
 * RecordingMocks whose hcloud resources get numeric IDs (as the real API returns), so a test can
 * check that a server's firewallIds / networkId point at the right resource.
 */
export class NumericIdMocks extends RecordingMocks {
  readonly ids = new Map<string, string>();
  private next = 1000;

  override newResource(args: pulumi.runtime.MockResourceArgs): {
    id: string;
    state: Record<string, unknown>;
  } {
    const result = super.newResource(args);
    if (!args.type.startsWith("hcloud:")) return result;
    const id = String(this.next++);
    this.ids.set(args.name, id);
    return { ...result, id };
  }

  idOf(name: string): number {
    const id = this.ids.get(name);
    if (id === undefined) throw new Error(`no hcloud resource named ${name}`);
    return Number(id);
  }
}

/**
 * Runs `program` as a stack under fresh NumericIdMocks; resolves once every registration has
 * finished (underMocks in ./under-mocks does the same with plain RecordingMocks).
 */
export async function runProgram<T>(
  stack: string,
  program: () => T,
): Promise<{ mocks: NumericIdMocks; result: T }> {
  const mocks = new NumericIdMocks();
  await pulumi.runtime.setMocks(mocks, "agent-fleet", stack, false);
  let result: T | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    result = program();
    return {};
  });
  await pulumi.runtime.disconnect();
  return { mocks, result: result as T };
}

/** Resolves an Output and whether it is secret. */
export async function valueAndSecrecy<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
  const value = await new Promise<T>((resolve) => output.apply(resolve));
  return { value, secret: await pulumi.isSecret(output) };
}

export interface CloudConfig {
  write_files: { path: string; content: string; permissions: string }[];
  runcmd: string[][];
}

/** Parses `#cloud-config` user data. */
export function parseCloudInit(userData: unknown): CloudConfig {
  if (typeof userData !== "string" || !userData.startsWith("#cloud-config\n")) {
    throw new Error(`not a #cloud-config document: ${String(userData).slice(0, 40)}`);
  }
  return parse(userData) as CloudConfig;
}

export function fileIn(init: CloudConfig, path: string): { content: string; permissions: string } {
  const file = init.write_files.find((f) => f.path === path);
  if (!file)
    throw new Error(
      `cloud-init writes no ${path}; it writes ${init.write_files.map((f) => f.path).join(", ")}`,
    );
  return file;
}
