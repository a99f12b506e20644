/**
 * `npm test`: every check in turn, each announced with its duration; a failing step does not hide
 * the ones after it, and the run ends with a summary and a non-zero exit if any failed. While a
 * step is quiet for long (a type check, a slow test file), a heartbeat line says it is still running.
 */
import { spawn } from "node:child_process";

const STEPS = [
  ["build", "npm", ["run", "build"]],
  ["typecheck", "npm", ["run", "typecheck"]],
  ["lint", "npm", ["run", "lint"]],
  ["format", "npm", ["run", "format:check"]],
  ["docs drift", "npm", ["run", "docs:check"]],
  ["unit and integration tests", "npm", ["run", "test:unit"]],
  ["workspace checks", "npm", ["test", "--workspaces", "--if-present"]],
];
/** A step that prints nothing for this long gets a "still running" line. */
const HEARTBEAT_MS = 30_000;

function run(name, command, args) {
  return new Promise((resolve) => {
    const started = Date.now();
    let lastOutput = Date.now();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const forward = (to) => (chunk) => {
      lastOutput = Date.now();
      to.write(chunk);
    };
    child.stdout.on("data", forward(process.stdout));
    child.stderr.on("data", forward(process.stderr));
    const heartbeat = setInterval(() => {
      if (Date.now() - lastOutput >= HEARTBEAT_MS) {
        process.stdout.write(
          `[npm test] ${name}: still running (${Math.round((Date.now() - started) / 1000)} s)\n`,
        );
        lastOutput = Date.now();
      }
    }, 5_000);
    child.on("close", (code, signal) => {
      clearInterval(heartbeat);
      resolve({ ok: code === 0, seconds: Math.round((Date.now() - started) / 1000), code: code ?? signal });
    });
  });
}

const results = [];
for (const [name, command, args] of STEPS) {
  process.stdout.write(`\n[npm test] ${name} ...\n`);
  const result = await run(name, command, args);
  results.push({ name, ...result });
  process.stdout.write(
    `[npm test] ${name}: ${result.ok ? "ok" : `FAILED (exit ${result.code})`} in ${result.seconds} s\n`,
  );
}
const failed = results.filter((r) => !r.ok);
process.stdout.write(
  `\n[npm test] ${results.length - failed.length}/${results.length} steps passed` +
    (failed.length ? `; failed: ${failed.map((r) => r.name).join(", ")}\n` : "\n"),
);
process.exit(failed.length ? 1 : 0);
