/**
 * The program reads its config from the engine the way `pulumi up` and an Automation API inline
 * program hand it over: values as strings, and which keys are secret through the SDK (no
 * language-host environment variable).
 */
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readStackFile } from "../../../infra/config/load";
import { installMocks } from "../../../infra/render/mocks";
import { loadEngineConfig } from "../../../infra/program/stack";
import { ROOT } from "../support/stacks";

const KEY = "agent-fleet:anthropicApiKey";

/** Pulumi.e2e.yaml as the engine passes it: every value a string, objects as JSON. */
function engineConfig(): Record<string, string> {
  const file = readStackFile(join(ROOT, "Pulumi.e2e.yaml"));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(file.values)) {
    out[`agent-fleet:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  }
  out[KEY] = "sk-ant-engine-test";
  return out;
}

describe("loadEngineConfig", () => {
  const saved = process.env.PULUMI_CONFIG_SECRET_KEYS;
  beforeEach(async () => {
    // Only the Node.js language host sets this; an inline program never has it.
    delete process.env.PULUMI_CONFIG_SECRET_KEYS;
    await installMocks("e2e");
  });
  afterEach(() => {
    if (saved !== undefined) process.env.PULUMI_CONFIG_SECRET_KEYS = saved;
  });

  it("learns which keys are secret from the SDK, as an inline program's run request sets them", () => {
    pulumi.runtime.setAllConfig(engineConfig(), [KEY]);
    const config = loadEngineConfig();
    expect(config.secretValues.anthropicApiKey).toBe("sk-ant-engine-test");
  });

  it("refuses an API key stored in plain text, naming the key and the command that fixes it", () => {
    pulumi.runtime.setAllConfig(engineConfig(), []);
    expect(() => loadEngineConfig()).toThrow(
      /anthropicApiKey.*stored in plain text.*pulumi config set --secret agent-fleet:anthropicApiKey/s,
    );
  });
});
