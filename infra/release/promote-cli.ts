/**
 * `npm run images:promote -- --stack <name> --metadata <images.json> [--tag <tag>]`: pins the
 * stack's images to the digests of a `docker buildx bake --metadata-file` record (images.source:
 * prebuilt, every image by digest, the built canary too), so `pulumi up` deploys exactly what the
 * pipeline built and tested (deploy.yml; docs/ci.md "Promotion and rollback"). The new stack file
 * is validated as a whole before it replaces the old one; on any error nothing is written.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parse as parseYaml } from "yaml";
import { StackConfigError } from "../config/errors";
import { parseStackFile } from "../config/load";
import { resolveStackConfig } from "../config/resolve";
import { parseStackCommand } from "../render/stack-cli";
import { imagesFromMetadata, promoteStackText, ReleaseError } from "./bake";

const USAGE =
  "usage: npm run images:promote -- --stack <name> --metadata <bake metadata file> [--tag <tag>] [--pull-server <host> --pull-username <user> [--pull-password-key <secret key>]] [--dir <project dir>]";

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ReleaseError(`--metadata ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ReleaseError(`${path}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

function main(): number {
  const cmd = parseStackCommand("images:promote", USAGE, {
    metadata: { type: "string", short: "m" },
    tag: { type: "string" },
    "pull-server": { type: "string" },
    "pull-username": { type: "string" },
    "pull-password-key": { type: "string" },
  });
  if ("exit" in cmd) return cmd.exit;
  const { stackFile, values } = cmd;
  const metadataFile = typeof values.metadata === "string" ? values.metadata : undefined;
  if (metadataFile === undefined || metadataFile === "") {
    console.error(`images:promote: --metadata is required\n${USAGE}`);
    return 2;
  }
  const file = basename(stackFile);
  const built = imagesFromMetadata(readJson(metadataFile), basename(metadataFile));
  const text = readFileSync(stackFile, "utf8");
  const current = (parseYaml(text) as { config?: Record<string, { tag?: unknown }> } | null)?.config?.[
    "agent-fleet:images"
  ];
  const tag =
    typeof values.tag === "string" ? values.tag : typeof current?.tag === "string" ? current.tag : "release";
  const server = values["pull-server"];
  const username = values["pull-username"];
  const passwordKey = values["pull-password-key"];
  if ((typeof server === "string") !== (typeof username === "string")) {
    console.error(`images:promote: --pull-server and --pull-username go together\n${USAGE}`);
    return 2;
  }
  const pull =
    typeof server === "string" && typeof username === "string"
      ? { server, username, ...(typeof passwordKey === "string" ? { passwordKey } : {}) }
      : undefined;
  const promoted = promoteStackText(text, file, built, tag, pull);
  resolveStackConfig(parseStackFile(promoted, file)); // throws with every problem; nothing written
  writeFileSync(`${stackFile}.tmp`, promoted);
  renameSync(`${stackFile}.tmp`, stackFile);
  console.log(
    `images:promote: ${file} now runs ${Object.keys(built.digests).length} images by digest from ${basename(metadataFile)} (${built.repository}, tag ${tag})` +
      (built.canary ? `, canary ${built.canary.agent} ${built.canary.image}` : ""),
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  if (err instanceof StackConfigError || err instanceof ReleaseError) {
    console.error(err.message);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
