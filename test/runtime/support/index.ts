export * from "./wait";
export * from "./redis-server";
export * from "./child-process";
export * from "./queue";
export * from "./fault-proxy";
