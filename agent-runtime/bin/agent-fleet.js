#!/usr/bin/env node
// The `agent-fleet` command. Which code it runs:
//   - from source (src/cli/main.ts through tsx) when src/ and tsx are both present — a checkout,
//     where a dist/ left over from an earlier build could be stale;
//   - otherwise the compiled dist/cli/main.js — the images, which ship dist/ and no tsx.
// AGENT_FLEET_RUNTIME=dist|source forces one or the other.
"use strict";
// The long-running commands handle SIGTERM/SIGINT (drain, then exit). Until their handler is
// installed, signals are caught and kept for it (src/worker/shutdown.ts, takeEarlySignals), so a
// pod stopped while it starts still shuts down cleanly instead of dying with a task leased.
if (["dev", "worker", "router"].includes(process.argv[2])) {
  const early = { received: [], listener: (signal) => early.received.push(signal) };
  globalThis[Symbol.for("agent-fleet.early-signals")] = early;
  process.on("SIGTERM", early.listener);
  process.on("SIGINT", early.listener);
}
const fs = require("node:fs");
const path = require("node:path");

const pkg = path.resolve(__dirname, "..");
const compiled = path.join(pkg, "dist", "cli", "main.js");
const source = path.join(pkg, "src", "cli", "main.ts");
const forced = process.env.AGENT_FLEET_RUNTIME;

function fail(message) {
  process.stderr.write(`agent-fleet: ${message}\n`);
  process.exit(2);
}

// Both of tsx's hooks: require() of .ts files, and import() of them (lib/tracing.ts loads the
// OpenTelemetry SDK with a dynamic import only when tracing is on).
function tsxRegister() {
  try {
    const cjs = require("tsx/cjs/api").register;
    const esm = require("tsx/esm/api").register;
    return () => {
      cjs();
      esm();
    };
  } catch {
    return undefined;
  }
}

if (forced !== undefined && forced !== "dist" && forced !== "source") {
  fail(`AGENT_FLEET_RUNTIME must be "dist" or "source" (got "${forced}")`);
}

let entry;
if (forced !== "dist" && fs.existsSync(source)) {
  const register = tsxRegister();
  if (register) {
    register();
    entry = source;
  } else if (forced === "source") {
    fail("AGENT_FLEET_RUNTIME=source needs tsx (a devDependency of the repository root); run npm ci");
  }
}
if (entry === undefined) {
  if (!fs.existsSync(compiled)) {
    fail(
      `${compiled} is missing: build it with "npm run build -w agent-runtime", or run from a checkout with tsx installed`,
    );
  }
  entry = compiled;
}

require(entry)
  .main(process.argv.slice(2))
  .then((code) => {
    // Long-running commands (dev, worker, router) resolve 0 once started and keep running.
    if (code !== 0) process.exit(code);
  })
  .catch((error) => {
    process.stderr.write(`agent-fleet: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
