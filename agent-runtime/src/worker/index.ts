export * from "./worker";
export * from "./env";
export * from "./shutdown";
