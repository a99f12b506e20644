/** What `pulumi up` runs (Pulumi.yaml `main:`): the stack's outputs are this module's exports. */
import { deployStack } from "./stack";

const outputs = deployStack();

export const namespace = outputs.namespace;
export const routerUrl = outputs.routerUrl;
export const routerTokens = outputs.routerTokens;
export const workloads = outputs.workloads;
export const queueEndpoint = outputs.queueEndpoint;
export const kubeconfig = outputs.kubeconfig;
