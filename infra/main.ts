/** What `pulumi up` runs (Pulumi.yaml `main:`): read the stack config once, deploy the fleet. */
import * as pulumi from "@pulumi/pulumi";
import { fromEngineConfig, resolveStackConfig, StackConfigError } from "./config";
import { assertCapacity, CapacityError } from "./cost/capacity";
import { deployFleet } from "./program";

function loadConfig() {
  try {
    const config = resolveStackConfig(
      fromEngineConfig(pulumi.getStack(), pulumi.runtime.allConfig(), process.env.PULUMI_CONFIG_SECRET_KEYS),
    );
    // Preview and up stop here when an agent's max scale cannot fit its pool's max nodes.
    assertCapacity(config);
    return config;
  } catch (err) {
    // A RunError prints its message without a stack trace: the message is the whole story.
    if (err instanceof StackConfigError || err instanceof CapacityError)
      throw new pulumi.RunError(err.message);
    throw err;
  }
}

const fleet = deployFleet(loadConfig());

export const namespace = fleet.namespace;
export const routerUrl = fleet.routerUrl;
export const routerTokens = fleet.routerTokens;
export const workloads = fleet.workloads;
export const queueEndpoint = fleet.queueEndpoint;
export const kubeconfig = fleet.kubeconfig;
