/**
 * agent-fleet as a library: `import { AgentFleet, AgentPool, ExistingCluster } from "agent-fleet"`.
 * The program (`infra/program/main.ts`) is not part of it; Pulumi.yaml's `main:` runs that.
 */

// The agent catalog and the settings components take.
export {
  AGENT_CATALOG,
  AGENT_TYPES,
  TASK_ROUTES,
  agentSettings,
  taskTypesOf,
  type AgentDefaults,
  type AgentOverrides,
  type AgentSettings,
  type AgentType,
  type ModelSpec,
} from "./catalog";

// What infra and the agent runtime agree on.
export {
  API_KEY_ENV,
  BACKLOG_METRIC,
  RUNTIME_ENV,
  RUNTIME_METRICS,
  type ApiProvider,
} from "../agent-runtime/src/contract";

// Stack config: one zod schema, resolved and validated once by the program.
export {
  CONFIG_NAMESPACE,
  StackConfigError,
  formatIssue,
  formatKeyPath,
  type ConfigIssue,
} from "./config/errors";
export { fromEngineConfig, readStackFile, SECRET_PLACEHOLDER, type StackFile } from "./config/load";
export {
  resolveStackConfig,
  type FleetConfig,
  type RawStackConfig,
  type ResolvedAgent,
} from "./config/resolve";
export { DEFAULT_CIRCUIT_BREAKER, DEFAULT_RETRIES } from "./config/schema";
export * as schema from "./config/schema";

// Every component validates its Args the same way.
export { ComponentArgsError, type ArgsProblem } from "./lib/args";

// Cluster back-ends: each exposes KubernetesCluster.
export * from "./components/cluster/kubernetes-cluster";
export * from "./components/cluster/existing-cluster";
export * from "./components/cluster/gke-cluster";
export * from "./components/cluster/hetzner-k3s/hetzner-k3s-cluster";

// The fleet's workloads.
export * from "./components/fleet/agent-fleet";
export * from "./components/fleet/agent-pool";
export * from "./components/fleet/autoscaling";
export * from "./components/fleet/conventions";
export * from "./components/fleet/mesh";
export * from "./components/fleet/model-store";
export * from "./components/fleet/network-policies";
export * from "./components/fleet/pod-spec";
export * from "./components/fleet/task-queue";
export * from "./components/fleet/task-router";
export * from "./components/fleet/tracing";

// Images and where they live.
export * from "./components/images/agent-images";
export * from "./components/images/image-registry";

// Platform add-ons.
export * from "./components/platform/observability";
// Alert rules and dashboards rendered from stack config, for a Prometheus and Grafana of your own.
export {
  ALERT_NAMES,
  alertRuleGroups,
  ruleFileYaml,
  type AlertName,
  type AlertRule,
  type RuleGroup,
} from "./observability/alerts";
export {
  DASHBOARDS,
  dashboardConfigMaps,
  dashboardQueries,
  fleetDashboards,
  type GrafanaDashboard,
} from "./observability/dashboards";
export { EXTERNAL_METRICS } from "./observability/external-metrics";
export * from "./components/platform/secrets-backend";

// The program's mapping of stack config onto the components, for programs of your own.
export {
  deployFleet,
  fleetArgs,
  fleetImages,
  fleetTracing,
  nodePoolScheduling,
  observabilityArgs,
  type FleetOutputs,
} from "./program/deploy";
