/**
 * The `cluster` section: an existing cluster, GKE or Hetzner K3s, chosen by `provider` (a
 * discriminated union, so each backend's keys exist only in its variant).
 */
import { z } from "zod";
import { GCE_MACHINE_TYPES, GCE_MACHINE_TYPES_TEXT, GCP, HETZNER } from "../prices";
import { cidr, dnsLabel, labels, strict, taint, wholeNumber } from "./fields";

/*
 * Regions, zones, locations and machine types come from the price table (infra/prices.ts):
 * render's capacity check and the cost report need a node's size and price, so the stack may use
 * only what the table knows. To use another, add it to the table with its prices.
 */
const PRICE_TABLE = "infra/prices.ts";

/** A string that must be one of `allowed`; the message names them and where they come from. */
function fromPriceTable(what: string, allowed: readonly string[], allowedText = allowed.join(", ")) {
  return z
    .string({ error: `expected ${what}; allowed: ${allowedText} (from ${PRICE_TABLE})` })
    .refine(
      (value) => allowed.includes(value),
      `unknown ${what}; allowed: ${allowedText} (from ${PRICE_TABLE})`,
    );
}

const gcpZones = Object.values(GCP.regions).flatMap((r) => r.zones);
const gkeRegion = fromPriceTable("GKE region", Object.keys(GCP.regions));
const gkeZone = fromPriceTable("GKE zone", gcpZones);
const gkeMachineType = fromPriceTable("machine type", GCE_MACHINE_TYPES, GCE_MACHINE_TYPES_TEXT);
const hetznerLocation = fromPriceTable("Hetzner location", Object.keys(HETZNER.locations));
const hetznerNetworkZone = fromPriceTable("Hetzner network zone", [
  ...new Set(Object.values(HETZNER.locations)),
]);
const hetznerServerType = fromPriceTable("Hetzner server type", Object.keys(HETZNER.serverTypes));

const gkeNodePool = strict({
  machineType: gkeMachineType.default("e2-standard-8"),
  minNodes: wholeNumber(0).default(1),
  maxNodes: wholeNumber(1).default(3),
  diskSizeGb: wholeNumber(20).default(100),
  spot: z.boolean().default(false),
  labels: labels.default({}),
  taints: z.array(taint).default([]),
  gpu: strict({ type: z.string(), count: wholeNumber(1) }).optional(),
});

const hetznerNodePool = strict({
  serverType: hetznerServerType.default("cpx41"),
  minNodes: wholeNumber(0).default(1),
  maxNodes: wholeNumber(1).default(3),
  labels: labels.default({}),
  taints: z.array(taint).default([]),
});

const existingCluster = strict({
  provider: z.literal("existing"),
  /** Path to a kubeconfig file; `~` expands to the home directory. Default: the ambient kubeconfig. */
  kubeconfig: z.string().optional(),
  /** kubeconfig context to use. Default: the file's current context. */
  context: z.string().optional(),
  /** Optional scheduling per node pool; pools not listed are unconstrained on an existing cluster. */
  nodePools: z
    .record(z.string(), strict({ nodeSelector: labels.default({}), taints: z.array(taint).default([]) }))
    .default({}),
});

const gkeCluster = strict({
  provider: z.literal("gke"),
  project: z.string().min(1),
  region: gkeRegion,
  /** Zonal cluster in this zone instead of a regional one. */
  zone: gkeZone.optional(),
  nodeLocations: z.array(gkeZone).optional(),
  releaseChannel: z.enum(["RAPID", "REGULAR", "STABLE"]).default("REGULAR"),
  network: strict({
    nodesCidr: cidr.default("10.10.0.0/20"),
    podsCidr: cidr.default("10.20.0.0/14"),
    servicesCidr: cidr.default("10.24.0.0/20"),
    masterCidr: cidr.default("172.16.0.0/28"),
  }).prefault({}),
  masterAuthorizedNetworks: z.array(strict({ name: z.string(), cidr })).min(1, "list at least one network"),
  nodePools: z
    .record(dnsLabel, gkeNodePool)
    .refine((p) => Object.keys(p).length > 0, "define at least one node pool"),
});

const hetznerCluster = strict({
  provider: z.literal("hetzner-k3s"),
  location: hetznerLocation.default("nbg1"),
  networkZone: hetznerNetworkZone.default("eu-central"),
  k3sVersion: z.string().regex(/^v\d+\.\d+\.\d+\+k3s\d+$/, 'expected a K3s release such as "v1.33.5+k3s1"'),
  image: z.string().default("ubuntu-24.04"),
  network: strict({ cidr: cidr.default("10.0.0.0/16"), subnetCidr: cidr.default("10.0.1.0/24") }).prefault(
    {},
  ),
  controlPlane: strict({
    count: z
      .union([z.literal(1), z.literal(3)], { error: "expected 1 or 3 (3 = embedded-etcd HA)" })
      .default(1),
    serverType: hetznerServerType.default("cpx31"),
  }).prefault({}),
  firewall: strict({
    apiCidrs: z.array(cidr).min(1, "list at least one CIDR allowed to reach the Kubernetes API"),
    sshCidrs: z.array(cidr).default([]),
  }),
  sshKeys: z.array(z.string()).default([]),
  nodePools: z
    .record(dnsLabel, hetznerNodePool)
    .refine((p) => Object.keys(p).length > 0, "define at least one node pool"),
});

export const clusterSchema = z.discriminatedUnion("provider", [existingCluster, gkeCluster, hetznerCluster], {
  error: 'expected provider to be one of "existing", "gke", "hetzner-k3s"',
});
