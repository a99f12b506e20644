/**
 * agent-fleet as a library: `import { AgentFleet, AgentPool, ExistingCluster } from "agent-fleet"`.
 * The program (`infra/main.ts`) is not part of it; Pulumi.yaml's `main:` runs that.
 */
export {
  AGENT_CATALOG,
  AGENT_TYPES,
  TASK_ROUTES,
  taskTypesOf,
  type AgentDefaults,
  type AgentType,
  type ModelSpec,
} from "./catalog";
export * from "./config";
export {
  AgentFleet,
  agentExecutor,
  API_KEY_ENV,
  validateAgentFleetArgs,
  type AgentFleetArgs,
  type ApiProvider,
} from "./components/agent-fleet";
export {
  AgentPool,
  agentEnvironment,
  validateAgentPoolArgs,
  type AgentExecutor,
  type AgentPoolArgs,
  type QueueConnection,
  type SecretKeyRef,
} from "./components/agent-pool";
export * from "./components/agent-pool-spec";
export * from "./components/fleet-mesh";
export * from "./components/agent-images";
export * from "./components/image-registry";
export * from "./components/secrets-backend";
export { adapterRules, FleetObservability, type ObservabilityArgs } from "./components/observability";
export { POOL_LABEL, type KubernetesCluster } from "./components/cluster";
export {
  ExistingCluster,
  validateExistingClusterArgs,
  type ExistingClusterArgs,
} from "./components/existing-cluster";
export {
  ModelStore,
  validateModelStoreArgs,
  type ModelBackend,
  type ModelFile,
  type ModelStoreArgs,
} from "./components/model-store";
export {
  FleetNetworkPolicies,
  networkPolicySpecs,
  type FleetNetworkPoliciesArgs,
} from "./components/network-policies";
export { containerSecurityContext, podSecurityContext, RUNTIME_UID } from "./components/pod-security";
export {
  TaskQueue,
  validateTaskQueueArgs,
  type QueuePersistence,
  type TaskQueueArgs,
} from "./components/task-queue";
export { TaskRouter, validateTaskRouterArgs, type TaskRouterArgs } from "./components/task-router";
export { deployFleet, fleetArgs, fleetImages, nodePoolScheduling, type FleetOutputs } from "./program";
export { agentSettings } from "./settings";
