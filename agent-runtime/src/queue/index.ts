export * from "./client";
export * from "./errors";
export * from "./keys";
export * from "./schema";
export * from "./backoff";
export { loadScripts, scriptSource, luaDirectory, SCRIPT_NAMES, type ScriptName } from "./scripts";
