import { defineConfig } from "vitest/config";

// One runner for the whole repository. Each folder under test/ is its own project: the
// Pulumi-mock tests share process-global runtime state, so they run in isolated forks; the
// runtime tests start their own redis-server processes; the end-to-end suite runs only through
// `npm run e2e` (its own config).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "infra",
          include: ["test/infra/**/*.test.ts"],
          pool: "forks",
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "runtime",
          include: ["test/runtime/**/*.test.ts"],
          pool: "forks",
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "policy",
          include: ["test/policy/**/*.test.ts"],
          pool: "forks",
          testTimeout: 60_000,
        },
      },
    ],
  },
});
