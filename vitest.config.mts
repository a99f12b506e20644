import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// examples/consumer imports the package by name; tests resolve it to the compiled library, as an
// installed copy would (package.json "main").
const library = fileURLToPath(new URL("./dist/infra/index.js", import.meta.url));

// One runner for the whole repository. Each folder under test/ is its own project: the
// Pulumi-mock tests share process-global runtime state, so they run in isolated forks; the
// runtime tests start their own redis-server processes; the end-to-end suite runs only through
// `npm run e2e` (its own config).
export default defineConfig({
  test: {
    projects: [
      {
        resolve: { alias: { "agent-fleet": library } },
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
      {
        test: {
          name: "ci",
          include: ["test/ci/**/*.test.ts"],
        },
      },
    ],
  },
});
