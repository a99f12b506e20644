/** ExistingCluster constructed alone under Pulumi mocks: the Kubernetes provider it registers. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, describe, expect, it } from "vitest";
import {
  expandHome,
  ExistingCluster,
  validateExistingClusterArgs,
} from "../../../../infra/components/cluster/existing-cluster";
import { ComponentArgsError } from "../../../../infra/lib/args";
import { promiseOf } from "../../../../infra/render/mocks";
import { named, underMocks } from "../../support/under-mocks";

const PROVIDER = "pulumi:providers:kubernetes";
const dir = mkdtempSync(join(tmpdir(), "existing-cluster-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ExistingCluster", () => {
  it("with no Args: a provider on the ambient kubeconfig, server-side apply on, an empty secret kubeconfig", async () => {
    const { mocks, result } = await underMocks(async () => {
      const cluster = new ExistingCluster("cluster", {});
      return {
        kubeconfig: await promiseOf(cluster.kubeconfig),
        secret: await pulumi.isSecret(cluster.kubeconfig),
      };
    });
    expect(named(mocks, PROVIDER, "cluster-provider").inputs).toEqual({ enableServerSideApply: "true" });
    expect(result).toEqual({ kubeconfig: "", secret: true });
  });

  it("hands the provider the path and context; reads the file only into the secret output", async () => {
    const path = join(dir, "config");
    writeFileSync(path, "apiVersion: v1\nkind: Config\n");
    const { mocks, result } = await underMocks(async () => {
      const cluster = new ExistingCluster("cluster", { kubeconfigPath: path, context: "kind-dev" });
      return promiseOf(cluster.kubeconfig);
    });
    expect(named(mocks, PROVIDER, "cluster-provider").inputs).toMatchObject({
      kubeconfig: path,
      context: "kind-dev",
    });
    expect(result).toBe("apiVersion: v1\nkind: Config\n");
  });

  it("expands ~ to the home directory", () => {
    expect(expandHome("~/.kube/config")).toBe(join(homedir(), ".kube/config"));
    expect(expandHome("/etc/kubeconfig")).toBe("/etc/kubeconfig");
  });

  it("validates every property at once, each with its path", () => {
    let error: unknown;
    try {
      validateExistingClusterArgs("cluster", { kubeconfigPath: "", context: " " });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ComponentArgsError);
    expect((error as ComponentArgsError).errors).toEqual([
      { propertyPath: "kubeconfigPath", reason: "must not be empty (omit it to use the ambient kubeconfig)" },
      { propertyPath: "context", reason: "must not be empty (omit it to use the current context)" },
    ]);
    expect((error as Error).message).toBe(
      'ExistingCluster "cluster": kubeconfigPath: must not be empty (omit it to use the ambient kubeconfig); ' +
        "context: must not be empty (omit it to use the current context)",
    );
  });
});
