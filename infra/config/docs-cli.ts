/** `npm run docs:config` writes docs/configuration.md; `npm run docs:check` fails when it is stale or drifts. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { configurationMarkdown, descriptionDrift } from "./docs";

const USAGE =
  "usage: npm run docs:config (tsx infra/config/docs-cli.ts --write) | npm run docs:check (--check)";
const target = join(__dirname, "..", "..", "docs", "configuration.md");
const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--write" && a !== "--check");
if (unknown.length > 0 || args.length > 1) {
  console.error(
    `docs: ${unknown.length ? `unknown argument ${unknown.join(" ")}` : "give one of --write, --check"}\n${USAGE}`,
  );
  process.exit(2);
}
const mode = args[0] === "--write" ? "write" : "check";

const drift = descriptionDrift();
if (drift.missing.length || drift.stale.length) {
  for (const p of drift.missing)
    console.error(`docs: schema key ${p} has no description in infra/config/descriptions.ts`);
  for (const p of drift.stale) console.error(`docs: description for ${p} names no schema key`);
  process.exit(1);
}
const markdown = configurationMarkdown();
if (mode === "write") {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, markdown);
  console.log(`docs: wrote ${target}`);
} else if (!existsSync(target) || readFileSync(target, "utf8") !== markdown) {
  console.error("docs: docs/configuration.md is out of date with the schema; run npm run docs:config");
  process.exit(1);
} else {
  console.log("docs: docs/configuration.md matches the schema");
}
