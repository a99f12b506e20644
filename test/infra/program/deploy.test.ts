/**
 * The program's one mapping of stack config onto component Args: sections that are an Args slice
 * pass through as they are; secrets, images and cluster-specific scheduling are mapped here.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { prebuiltImages } from "../../../infra/components/images/agent-images";
import { fleetArgs, nodePoolScheduling } from "../../../infra/program/deploy";
import { promiseOf } from "../../../infra/render/mocks";
import { stackConfig } from "../support/stacks";
import { underMocks } from "../support/under-mocks";

const images = prebuiltImages({ repository: "ghcr.io/acme", tag: "1.0.0" });

describe("fleetArgs", () => {
  it("passes the mesh, queue and agents sections through, adding only the cluster's Istio platform", () => {
    const config = stackConfig("prod");
    const args = fleetArgs(config, images);
    expect(args.istio).toEqual({ ...config.mesh.istio, platform: "gke" });
    expect(fleetArgs(stackConfig("staging"), images).istio?.platform).toBe("k3s");
    expect(fleetArgs(stackConfig("dev"), images).istio).toEqual(stackConfig("dev").mesh.istio);
    expect(args.queue).toBe(config.queue);
    expect(args.agents).toBe(config.enabledAgents);
    expect(args).toMatchObject({
      namespace: "agent-fleet",
      logLevel: "info",
      prometheusNamespace: "monitoring",
      scaling: {
        mode: "hpa",
        behavior: config.autoscaling.mode === "hpa" ? config.autoscaling.behavior : {},
      },
      images: { router: "ghcr.io/acme/router:1.0.0", agents: { python: "ghcr.io/acme/agent-python:1.0.0" } },
    });
  });

  it("maps what the components cannot know: secrets by key, the router's tokens, the NFS clients", async () => {
    const staging = stackConfig("staging");
    const { result } = await underMocks(async () => {
      const args = fleetArgs(
        {
          ...staging,
          router: { ...staging.router, tokensKey: "routerTokens" },
          secretValues: { ...staging.secretValues, routerTokens: "tok" },
        },
        images,
      );
      return {
        router: { ...args.router, tokens: await promiseOf(pulumi.output(args.router.tokens)) },
        backend: args.models?.backend,
        apiKeys: Object.keys(
          "values" in (args.apiKeys ?? {}) ? (args.apiKeys as { values: object }).values : {},
        ),
      };
    });
    expect(result.router).toEqual({
      replicas: 2,
      auth: "required",
      resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
      tokens: "tok",
    });
    // hcloud volumes are exported over NFS to the cluster's private network only.
    expect(result.backend).toEqual({ kind: "hcloud-nfs", clientCidrs: ["10.0.0.0/16"] });
    expect(result.apiKeys).toEqual(["anthropic"]);
  });
});

describe("nodePoolScheduling", () => {
  it("cloud pools select their pool label and tolerate their taints", () => {
    expect(nodePoolScheduling(stackConfig("prod"))).toEqual({
      agents: { nodeSelector: { "agent-fleet.io/pool": "agents" }, tolerations: [] },
      ml: {
        nodeSelector: { "agent-fleet.io/pool": "ml" },
        tolerations: [{ key: "agent-fleet.io/pool", operator: "Equal", value: "ml", effect: "NoSchedule" }],
      },
    });
  });

  it("an existing cluster's pools are what its config says, and nothing when it says nothing", () => {
    expect(nodePoolScheduling(stackConfig("dev"))).toEqual({});
    const edited = stackConfig("dev", (v) => {
      v.cluster = { provider: "existing", nodePools: { gpu: { nodeSelector: { accelerator: "l4" } } } };
    });
    expect(nodePoolScheduling(edited)).toEqual({
      gpu: { nodeSelector: { accelerator: "l4" }, tolerations: [] },
    });
  });
});
