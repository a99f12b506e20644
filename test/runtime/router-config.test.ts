/** Router environment and token loading: every error names the variable (or file and line). */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { EnvError } from "../../agent-runtime/src/lib/env";
import { RouterConfigError, TokenAuth } from "../../agent-runtime/src/router/auth";
import { loadRouterConfig } from "../../agent-runtime/src/router/config";
import { SubmitTaskSchema } from "../../agent-runtime/src/router/schemas";

const dir = mkdtempSync(path.join(tmpdir(), "router-tokens-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = "a-good-token-0123456789";

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

describe("router environment", () => {
  it("has defaults for everything but the tokens", () => {
    const config = loadRouterConfig({ ROUTER_TOKENS: GOOD });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: "0.0.0.0",
      REDIS_URL: "redis://127.0.0.1:6379/0",
      QUEUE_PREFIX: "fleet",
      ROUTER_AUTH: "required",
      ROUTER_MAX_BODY_BYTES: 1048576,
    });
    expect(config.auth?.size).toBe(1);
  });

  it("needs tokens unless auth is disabled", () => {
    expect(thrown(() => loadRouterConfig({})).message).toBe(
      "ROUTER_AUTH=required but neither ROUTER_TOKENS_FILE nor ROUTER_TOKENS is set; give tokens or set ROUTER_AUTH=disabled",
    );
    expect(loadRouterConfig({ ROUTER_AUTH: "disabled" }).auth).toBeUndefined();
  });

  it("names each bad variable and hides secrets", () => {
    const error = thrown(() =>
      loadRouterConfig({
        PORT: "eighty",
        REDIS_URL: "http://user:hunter2@redis",
        ROUTER_AUTH: "maybe",
        QUEUE_PREFIX: "{x}",
      }),
    );
    expect(error).toBeInstanceOf(EnvError);
    expect((error as EnvError).variables.sort()).toEqual([
      "PORT",
      "QUEUE_PREFIX",
      "REDIS_URL",
      "ROUTER_AUTH",
    ]);
    expect(error.message).toContain('PORT="eighty"');
    expect(error.message).toContain('ROUTER_AUTH="maybe"');
    expect(error.message).toContain("REDIS_URL=(hidden): must be a redis:// or rediss:// URL");
    expect(error.message).not.toContain("hunter2");
  });

  it("refuses short tokens, saying which one", () => {
    const error = thrown(() => loadRouterConfig({ ROUTER_TOKENS: `${GOOD},short` }));
    expect(error).toBeInstanceOf(RouterConfigError);
    expect(error.message).toBe("ROUTER_TOKENS entry 2: the token is shorter than 16 characters");
  });
});

describe("tokens file", () => {
  it("reads one token per line, skipping blanks and comments", () => {
    const file = path.join(dir, "tokens");
    writeFileSync(file, `# CI\n${GOOD}\n\n  second-token-abcdefghij  \n`);
    const auth = loadRouterConfig({ ROUTER_TOKENS_FILE: file }).auth!;
    expect(auth.size).toBe(2);
    expect(auth.check(`Bearer ${GOOD}`)).toBe(true);
    expect(auth.check("Bearer second-token-abcdefghij")).toBe(true);
    expect(auth.check("Bearer # CI")).toBe(false);
  });

  it("names the file and line of a bad token, and a missing file", () => {
    const file = path.join(dir, "bad");
    writeFileSync(file, `${GOOD}\ntiny\n`);
    expect(thrown(() => loadRouterConfig({ ROUTER_TOKENS_FILE: file })).message).toBe(
      `ROUTER_TOKENS_FILE=${file} line 2: the token is shorter than 16 characters`,
    );
    expect(thrown(() => loadRouterConfig({ ROUTER_TOKENS_FILE: path.join(dir, "none") })).message).toMatch(
      /cannot read the file/,
    );
    const empty = path.join(dir, "empty");
    writeFileSync(empty, "# nothing yet\n");
    expect(thrown(() => loadRouterConfig({ ROUTER_TOKENS_FILE: empty })).message).toBe(
      `ROUTER_AUTH=required but ROUTER_TOKENS_FILE=${empty} holds no token`,
    );
  });

  it("picks up a rotated file without a restart", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const file = path.join(dir, "rotating");
      writeFileSync(file, `${GOOD}\n`);
      const auth = new TokenAuth({ file });
      expect(auth.check(`Bearer ${GOOD}`)).toBe(true);
      writeFileSync(file, "rotated-token-0123456789\n");
      utimesSync(file, new Date(), new Date(Date.now() + 10_000));
      vi.setSystemTime(Date.now() + 6_000);
      expect(auth.check("Bearer rotated-token-0123456789")).toBe(true);
      expect(auth.check(`Bearer ${GOOD}`)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("submit body", () => {
  it("accepts priorities as numbers, bands and names", () => {
    const parse = (priority: unknown) =>
      SubmitTaskSchema.parse({
        type: "code-review",
        input: {},
        ...(priority === undefined ? {} : { priority }),
      }).priority;
    expect([0, "P1", "p2", "low", "Critical", undefined].map(parse)).toEqual([0, 1, 2, 3, 0, 2]);
  });
});
