import { defineConfig } from "vitest/config";

// `npm run test:obs`: alerts, dashboards and traces against real parts (test/obs): promtool checks
// and unit-tests the rules, a real Prometheus scrapes a local fleet, its spans pass through a real
// OpenTelemetry Collector running the stack's pipeline. Kept out of `npm test` because the binaries come from test/e2e/toolchain.sh (Go builds).
export default defineConfig({
  test: {
    name: "obs",
    include: ["test/obs/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 5 * 60_000,
    hookTimeout: 10 * 60_000,
    reporters: ["verbose"],
  },
});
