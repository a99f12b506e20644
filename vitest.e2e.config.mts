import { defineConfig } from "vitest/config";

// `npm run e2e`: the lifecycle suite against a real control plane (test/e2e/README.md). Kept out of
// `npm test` because a cold run builds Kubernetes from source first (about 6 minutes).
export default defineConfig({
  test: {
    name: "e2e",
    include: ["test/e2e/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 5 * 60_000,
    hookTimeout: 30 * 60_000,
    reporters: ["verbose"],
  },
});
