/** Runs component constructors under fresh recording mocks and hands back what was registered. */
import * as pulumi from "@pulumi/pulumi";
import { installMocks, type RecordedResource, type RecordingMocks } from "../../../infra/render/mocks";

/**
 * Installs fresh mocks, runs `program` inside a Pulumi stack (awaiting every registration it
 * started), and returns the recorded resources with whatever `program` resolved to.
 */
export async function underMocks<T>(
  program: () => Promise<T> | T,
  stack = "test",
): Promise<{ mocks: RecordingMocks; result: T }> {
  const mocks = await installMocks(stack);
  let result: T | undefined;
  await pulumi.runtime.runInPulumiStack(async () => {
    result = await program();
    return {};
  });
  await pulumi.runtime.disconnect();
  return { mocks, result: result as T };
}

/** The recorded custom resources of one type. */
export function ofType(mocks: RecordingMocks, type: string): RecordedResource[] {
  return mocks.resources.filter((r) => r.type === type);
}

/** The one recorded resource of `type` named `name`. */
export function named(mocks: RecordingMocks, type: string, name: string): RecordedResource {
  const found = mocks.resources.find((r) => r.type === type && r.name === name);
  if (!found) {
    const have = ofType(mocks, type).map((r) => r.name);
    throw new Error(`no ${type} named ${name}; have ${have.join(", ") || "none"}`);
  }
  return found;
}
