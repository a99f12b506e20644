import { defineConfig } from "vitest/config";

// `npm run test:node`: what the single-node cluster runs, checked before any pod does (test/node):
// the images assembled offline from the build outputs against images/Dockerfile, unpacked and run
// under chroot. Kept out of `npm test` because a cold assembly runs npm ci, tsc and gcc, and the
// run checks need root (chroot, mount and network namespaces).
export default defineConfig({
  test: {
    name: "node",
    include: ["test/node/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 5 * 60_000,
    hookTimeout: 30 * 60_000,
    reporters: ["verbose"],
  },
});
