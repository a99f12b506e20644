/**
 * The dated price table behind `npm run cost`. On-demand list prices, excluding VAT and discounts
 * (committed use, sustained use, spot). Refresh it by editing this file: keep `asOf` and the
 * sources in step with the numbers, and re-run `npx vitest run test/infra/cost.test.ts` (its
 * expectations are hand-computed from these numbers).
 */

export interface PriceTableInfo {
  /** When the table was last reconciled with its sources (YYYY-MM-DD). */
  asOf: string;
  currency: "USD" | "EUR";
  /** Where the numbers come from. */
  sources: string[];
  /** What the reader must know before budgeting with them. */
  caveat: string;
}

/** Hours in a billing month, as both providers' price pages use for monthly figures. */
export const HOURS_PER_MONTH = 730;

/** Per-hour rates of one machine family in one region: vCPU and GiB of memory are billed separately. */
export interface FamilyRate {
  vcpuHour: number;
  gibHour: number;
}

export interface GcpRegionPrices {
  /** The region's zones: `cluster.zone` and `cluster.nodeLocations` must be among them. */
  zones: string[];
  families: Record<string, FamilyRate>;
  /** pd-balanced boot disks, per GB and month. */
  pdBalancedGbMonth: number;
}

export const GCP: PriceTableInfo & {
  /** GKE cluster management fee per cluster and hour (Standard, zonal or regional). */
  clusterFeeHour: number;
  /** The regions stack config may use (`cluster.region`): those priced here. */
  regions: Record<string, GcpRegionPrices>;
  /**
   * The predefined machine types stack config may use (`machineType`): vCPU counts per family and
   * class, `<family>-<class>-<vCPUs>`. Every family here is priced in every region above.
   */
  machineTypes: Record<string, Record<GceMachineClass, number[]>>;
} = {
  asOf: "2026-11-21",
  currency: "USD",
  sources: [
    "https://cloud.google.com/compute/vm-instance-pricing (E2, N2, N2D predefined vCPU and memory, on-demand)",
    "https://cloud.google.com/compute/disks-image-pricing (pd-balanced)",
    "https://cloud.google.com/kubernetes-engine/pricing (cluster management fee)",
  ],
  caveat:
    "Transcribed offline from the published list prices; not re-checked against the live pages on the " +
    "asOf date. Spot pools are costed at on-demand prices (spot prices move daily). GPUs, Filestore, " +
    "Cloud NAT, load balancers and egress are not included.",
  clusterFeeHour: 0.1,
  regions: {
    "us-central1": {
      zones: ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"],
      families: {
        e2: { vcpuHour: 0.021811, gibHour: 0.002923 },
        n2: { vcpuHour: 0.031611, gibHour: 0.004237 },
        n2d: { vcpuHour: 0.027502, gibHour: 0.003686 },
      },
      pdBalancedGbMonth: 0.1,
    },
    "europe-west4": {
      zones: ["europe-west4-a", "europe-west4-b", "europe-west4-c"],
      families: {
        e2: { vcpuHour: 0.024, gibHour: 0.003216 },
        n2: { vcpuHour: 0.034773, gibHour: 0.004661 },
        n2d: { vcpuHour: 0.030252, gibHour: 0.004055 },
      },
      pdBalancedGbMonth: 0.11,
    },
  },
  machineTypes: {
    e2: { standard: [2, 4, 8, 16, 32], highmem: [2, 4, 8, 16], highcpu: [2, 4, 8, 16, 32] },
    n2: {
      standard: [2, 4, 8, 16, 32, 48, 64, 80, 96, 128],
      highmem: [2, 4, 8, 16, 32, 48, 64, 80, 96, 128],
      highcpu: [2, 4, 8, 16, 32, 48, 64, 80, 96],
    },
    n2d: {
      standard: [2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224],
      highmem: [2, 4, 8, 16, 32, 48, 64, 80, 96],
      highcpu: [2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224],
    },
  },
};

/** Memory per vCPU (GiB) of GCE's predefined machine classes. */
const GCE_CLASS_MEMORY = { standard: 4, highmem: 8, highcpu: 1 };
export type GceMachineClass = keyof typeof GCE_CLASS_MEMORY;

/** Every machine type of GCP.machineTypes, e.g. "e2-standard-16". */
export const GCE_MACHINE_TYPES: readonly string[] = Object.entries(GCP.machineTypes).flatMap(
  ([family, classes]) =>
    Object.entries(classes).flatMap(([cls, counts]) => counts.map((n) => `${family}-${cls}-${n}`)),
);

/** GCP.machineTypes in a line: "e2-standard-{2,4,8,16,32}, e2-highmem-{2,4,8,16}, ...". */
export const GCE_MACHINE_TYPES_TEXT = Object.entries(GCP.machineTypes)
  .flatMap(([family, classes]) =>
    Object.entries(classes).map(([cls, counts]) => `${family}-${cls}-{${counts.join(",")}}`),
  )
  .join(", ");

/** vCPUs and memory of a predefined GCE machine type such as "n2-highmem-16"; undefined for others. */
export function gceMachineShape(
  machineType: string,
): { vcpu: number; memoryGiB: number; family: string } | undefined {
  const m = /^([a-z0-9]+)-(standard|highmem|highcpu)-(\d+)$/.exec(machineType);
  if (!m) return undefined;
  const [, family, cls, n] = m as unknown as [string, string, GceMachineClass, string];
  const vcpu = Number(n);
  return { family, vcpu, memoryGiB: vcpu * GCE_CLASS_MEMORY[cls] };
}

/** Hourly on-demand price of a predefined machine type in a region; undefined when the table lacks it. */
export function gceHourlyPrice(region: string, machineType: string): number | undefined {
  const shape = gceMachineShape(machineType);
  const rate = shape && GCP.regions[region]?.families[shape.family];
  if (!shape || !rate) return undefined;
  return shape.vcpu * rate.vcpuHour + shape.memoryGiB * rate.gibHour;
}

export interface HetznerServerType {
  vcpu: number;
  memoryGiB: number;
  /** Monthly cap in EUR, Germany/Finland locations, excluding VAT and the IPv4 address. */
  monthly: number;
}

export const HETZNER: PriceTableInfo & {
  /**
   * The locations stack config may use (`cluster.location`), each with its network zone: those the
   * server prices below hold for (Germany, Finland).
   */
  locations: Record<string, string>;
  /** The server types stack config may use (`serverType`). */
  serverTypes: Record<string, HetznerServerType>;
  /** A Primary IPv4 per month (every node has one; IPv6 is switched off). */
  ipv4Monthly: number;
} = {
  asOf: "2026-11-21",
  currency: "EUR",
  sources: [
    "https://www.hetzner.com/cloud (server list prices, Germany/Finland, monthly cap, excl. VAT)",
    "https://docs.hetzner.com/cloud/servers/primary-ips/ (Primary IPv4)",
  ],
  caveat:
    "Transcribed offline from the last published list prices the table was reconciled with; Hetzner " +
    "adjusted cloud prices on 2026-04-01 and for new orders on 2026-06-15, so check the live price list " +
    "before budgeting. Volumes, load balancers, snapshots and traffic beyond the included quota are not included.",
  ipv4Monthly: 0.5,
  locations: { fsn1: "eu-central", nbg1: "eu-central", hel1: "eu-central" },
  serverTypes: {
    cx22: { vcpu: 2, memoryGiB: 4, monthly: 3.79 },
    cx32: { vcpu: 4, memoryGiB: 8, monthly: 6.8 },
    cx42: { vcpu: 8, memoryGiB: 16, monthly: 16.4 },
    cx52: { vcpu: 16, memoryGiB: 32, monthly: 32.4 },
    cpx11: { vcpu: 2, memoryGiB: 2, monthly: 4.35 },
    cpx21: { vcpu: 3, memoryGiB: 4, monthly: 7.55 },
    cpx31: { vcpu: 4, memoryGiB: 8, monthly: 13.6 },
    cpx41: { vcpu: 8, memoryGiB: 16, monthly: 25.2 },
    cpx51: { vcpu: 16, memoryGiB: 32, monthly: 54.9 },
    cax11: { vcpu: 2, memoryGiB: 4, monthly: 3.79 },
    cax21: { vcpu: 4, memoryGiB: 8, monthly: 6.49 },
    cax31: { vcpu: 8, memoryGiB: 16, monthly: 12.49 },
    cax41: { vcpu: 16, memoryGiB: 32, monthly: 24.49 },
    ccx13: { vcpu: 2, memoryGiB: 8, monthly: 12.49 },
    ccx23: { vcpu: 4, memoryGiB: 16, monthly: 24.49 },
    ccx33: { vcpu: 8, memoryGiB: 32, monthly: 48.49 },
    ccx43: { vcpu: 16, memoryGiB: 64, monthly: 96.49 },
    ccx53: { vcpu: 32, memoryGiB: 128, monthly: 192.49 },
    ccx63: { vcpu: 48, memoryGiB: 192, monthly: 288.49 },
  },
};
