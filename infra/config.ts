/**
 * The stack config contract: one zod schema for every `agent-fleet:*` key, catalog defaults merged
 * in, cross-field rules, and errors that name the file, the key path, the value and what is allowed.
 * Only the program reads config (once); components take the resolved values as Args.
 */
export {
  CONFIG_NAMESPACE,
  StackConfigError,
  formatIssue,
  formatKeyPath,
  type ConfigIssue,
} from "./stack-config/errors";
export { fromEngineConfig, readStackFile, SECRET_PLACEHOLDER, type StackFile } from "./stack-config/load";
export {
  resolveStackConfig,
  type FleetConfig,
  type RawStackConfig,
  type ResolvedAgent,
} from "./stack-config/resolve";
export * as schema from "./stack-config/schema";
