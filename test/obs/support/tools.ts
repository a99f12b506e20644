/**
 * promtool, prometheus and the OpenTelemetry Collector (test/obs/otelcol) for the observability suite, built from Go modules by
 * test/e2e/toolchain.sh (cached by version; a warm call takes under a second). OBS_TOOLS_BIN names
 * a folder that already has them and skips the script (its lock waits for any build under way).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../../..");

export interface ObsTools {
  promtool: string;
  prometheus: string;
  otelcol: string;
}

let cached: ObsTools | undefined;

export function obsTools(): ObsTools {
  if (cached) return cached;
  let binDir = process.env.OBS_TOOLS_BIN;
  if (!binDir) {
    const r = spawnSync("bash", [join(ROOT, "test/e2e/toolchain.sh"), "prometheus", "otelcol"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (r.status !== 0) throw new Error(`test/e2e/toolchain.sh prometheus otelcol exited with ${r.status}`);
    binDir = r.stdout.trim().split("\n").pop();
  }
  if (!binDir) throw new Error("toolchain.sh printed no bin folder");
  const tools = {
    promtool: join(binDir, "promtool"),
    prometheus: join(binDir, "prometheus"),
    otelcol: join(binDir, "otelcol"),
  };
  for (const [name, path] of Object.entries(tools)) {
    if (!existsSync(path))
      throw new Error(`${name} is not in ${binDir} (test/e2e/toolchain.sh prometheus otelcol)`);
  }
  cached = tools;
  return tools;
}
