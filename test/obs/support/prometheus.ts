/**
 * A real Prometheus (built by toolchain.sh) for the suite: started on a loopback port with a config
 * the test writes, queried over its HTTP API, stopped by PID with its data folder removed.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { z } from "zod";
import { freePort, ScriptProcess, waitUntil } from "../../runtime/support";

const vectorReply = z.object({
  status: z.literal("success"),
  data: z.object({
    resultType: z.string(),
    result: z.array(z.object({ metric: z.record(z.string(), z.string()) }).loose()),
  }),
});

const rulesReply = z.object({
  status: z.literal("success"),
  data: z.object({
    groups: z.array(
      z.object({
        name: z.string(),
        rules: z.array(
          z
            .object({
              name: z.string(),
              type: z.string(),
              health: z.string(),
              state: z.string().optional(),
              lastError: z.string().optional(),
              lastEvaluation: z.string(),
            })
            .loose(),
        ),
      }),
    ),
  }),
});
export type RuleStatus = z.infer<typeof rulesReply>["data"]["groups"][number]["rules"][number];

export interface Prometheus {
  url: string;
  /** An instant query; throws with Prometheus' error when the expression is rejected. */
  query(expr: string): Promise<z.infer<typeof vectorReply>["data"]["result"]>;
  /** Every rule with its health, state and last error. */
  rules(): Promise<RuleStatus[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(
  binary: string,
  files: { config: string; rules?: string },
): Promise<Prometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), "agent-fleet-prometheus-"));
  writeFileSync(path.join(dir, "prometheus.yml"), files.config);
  if (files.rules !== undefined) writeFileSync(path.join(dir, "rules.yml"), files.rules);
  const port = await freePort();
  const child = spawn(
    binary,
    [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  const proc = new ScriptProcess(child, process.env.FLEET_TEST_VERBOSE === "1");
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop("SIGTERM", 20_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const api = async (pathAndQuery: string): Promise<unknown> => {
    const res = await fetch(`${url}${pathAndQuery}`);
    const body: unknown = await res.json();
    if (res.status !== 200)
      throw new Error(`Prometheus ${pathAndQuery}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  try {
    await waitUntil(
      async () => {
        if (!proc.running) throw new Error(`prometheus exited:\n${proc.output.join("\n")}`);
        const res = await fetch(`${url}/-/ready`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 120_000, intervalMs: 200, message: "Prometheus to be ready" },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    query: async (expr) =>
      vectorReply.parse(await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)).data.result,
    rules: async () => rulesReply.parse(await api("/api/v1/rules")).data.groups.flatMap((g) => g.rules),
    stop,
  };
}
