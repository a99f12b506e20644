import * as pulumi from "@pulumi/pulumi";
import { reviewFleet } from "./fleet";

const config = new pulumi.Config();
const { fleet } = reviewFleet({
  kubeconfig: config.get("kubeconfig"),
  context: config.get("context"),
  imageDigest: config.get("imageDigest") ?? `sha256:${"0".repeat(64)}`,
});

export const namespace = fleet.namespace;
export const routerUrl = fleet.routerUrl;
export const workloads = fleet.workloads;
