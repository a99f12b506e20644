// Stops `npm test` and `npm run dev` at once on a Node.js older than the repository needs, before
// anything else runs. Plain ES5-era JavaScript on purpose: it must run on the old Node it refuses.
"use strict";
var required = 22;
var major = Number(process.versions.node.split(".")[0]);
if (!(major >= required)) {
  process.stderr.write(
    "agent-fleet needs Node.js >= " +
      required +
      "; this is Node.js " +
      process.versions.node +
      ".\n" +
      "Install Node.js 22 or newer, or run `source .ci/node-env.sh`, which puts an official Node 24\n" +
      "from the npm registry on PATH for this shell. Then run `npm ci` again (dependencies installed\n" +
      "by an older Node may not load).\n",
  );
  process.exit(1);
}
