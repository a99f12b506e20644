export * from "./wait";
export * from "./redis-server";
export * from "./child-process";
export * from "./queue";
export * from "./fault-proxy";
export * from "./fake-llm";
export * from "./tracing";
