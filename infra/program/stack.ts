/**
 * What a Pulumi engine run executes: the stack config the engine hands over, validated once, then
 * the whole stack (deploy.ts). `main.ts` runs it under `pulumi up`; an Automation API inline
 * program (the end-to-end suite's) calls deployStack() the same way.
 */
import * as pulumi from "@pulumi/pulumi";
import { StackConfigError } from "../config/errors";
import { fromEngineConfig } from "../config/load";
import { resolveStackConfig, type FleetConfig } from "../config/resolve";
import { assertCapacity, CapacityError } from "../cost/capacity";
import { deployFleet, type FleetOutputs } from "./deploy";

/**
 * The SDK's record of which config keys the stack stores as secrets: exported by
 * `@pulumi/pulumi/runtime` but missing from its type declarations.
 */
function isConfigSecret(key: string): boolean {
  const sdk = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };
  if (typeof sdk.isConfigSecret !== "function") {
    throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret; update infra/program/stack.ts");
  }
  return sdk.isConfigSecret(key);
}

/**
 * The stack's config as the engine hands it to the program, validated once. Preview and up stop
 * here with every problem listed (a RunError prints its message without a stack trace), including
 * an agent whose max scale cannot fit its pool's max nodes.
 */
export function loadEngineConfig(): FleetConfig {
  try {
    const config = resolveStackConfig(
      fromEngineConfig(pulumi.getStack(), pulumi.runtime.allConfig(), isConfigSecret),
    );
    assertCapacity(config);
    return config;
  } catch (err) {
    if (err instanceof StackConfigError || err instanceof CapacityError)
      throw new pulumi.RunError(err.message);
    throw err;
  }
}

/** The whole program: the engine's config in, the stack outputs out. */
export function deployStack(): FleetOutputs {
  return deployFleet(loadEngineConfig());
}
