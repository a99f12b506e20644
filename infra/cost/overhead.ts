/**
 * What a node keeps back from pods: its allocatable resources are capacity minus the kubelet's
 * reservations minus the requests of the DaemonSet pods every node runs. Only requests count,
 * because the scheduler packs by requests.
 *
 * GKE: the reservation formula Google documents for Standard node pools
 * (https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes#memory_and_cpu_reservations)
 * plus the 100 MiB eviction threshold, and an allowance for GKE's own DaemonSets on a Dataplane V2,
 * Workload Identity, Filestore/GCS FUSE/PD CSI node (anetd, fluentbit-gke, gke-metadata-server,
 * gke-metrics-agent, pdcsi-node, filestore-node, gcsfusecsi-node, ip-masq-agent): 400m CPU and
 * 512 MiB, rounded up from the requests those DaemonSets carry.
 *
 * Hetzner K3s: exactly the kube-reserved, system-reserved and eviction flags the cluster's
 * cloud-init sets (infra/components/cluster/hetzner-k3s/cloud-init.ts). The only DaemonSet is the hcloud CSI node
 * plugin, whose chart sets no requests, so it takes nothing from the scheduler's point of view.
 *
 * Capacity is the machine type's nominal vCPUs and memory (GCE and Hetzner quote GiB); the few
 * percent of RAM the kernel keeps out of the kubelet's view is within the DaemonSet allowance.
 */
import { K3S_RESERVED } from "../components/cluster/hetzner-k3s/cloud-init";
import { parseQuantity } from "../lib/quantity";

export interface NodeShape {
  vcpu: number;
  memoryGiB: number;
}

export interface Amount {
  /** Millicores. */
  cpu: number;
  /** MiB. */
  memory: number;
}

export interface NodeBudget {
  capacity: Amount;
  /** Kubelet/system reservations and the eviction threshold. */
  reserved: Amount;
  /** Requests of the per-node DaemonSets. */
  daemonsets: Amount;
  /** What pods can request: capacity - reserved - daemonsets. */
  allocatable: Amount;
}

export const GKE_DAEMONSETS: Amount = { cpu: 400, memory: 512 };
export const GKE_EVICTION_MIB = 100;

const MiB = 2 ** 20;
const cores = (q: string) => parseQuantity(q) * 1000;
const mib = (q: string) => parseQuantity(q) / MiB;

/** Portion of `x` between `from` and `to`. */
const band = (x: number, from: number, to: number) => Math.max(0, Math.min(x, to) - from);

/** GKE's CPU reservation: 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above 4. */
export function gkeReservedCpu(vcpu: number): number {
  return (
    1000 *
    (0.06 * band(vcpu, 0, 1) +
      0.01 * band(vcpu, 1, 2) +
      0.005 * band(vcpu, 2, 4) +
      0.0025 * band(vcpu, 4, Infinity))
  );
}

/**
 * GKE's memory reservation in MiB: 255 MiB below 1 GiB; else 25% of the first 4 GiB, 20% of the
 * next 4, 10% of the next 8, 6% of the next 112, 2% above 128 GiB. Plus the eviction threshold.
 */
export function gkeReservedMemory(memoryGiB: number): number {
  const reservedGiB =
    memoryGiB < 1
      ? 255 / 1024
      : 0.25 * band(memoryGiB, 0, 4) +
        0.2 * band(memoryGiB, 4, 8) +
        0.1 * band(memoryGiB, 8, 16) +
        0.06 * band(memoryGiB, 16, 128) +
        0.02 * band(memoryGiB, 128, Infinity);
  return reservedGiB * 1024 + GKE_EVICTION_MIB;
}

function budget(shape: NodeShape, reserved: Amount, daemonsets: Amount): NodeBudget {
  const capacity = { cpu: shape.vcpu * 1000, memory: shape.memoryGiB * 1024 };
  return {
    capacity,
    reserved,
    daemonsets,
    allocatable: {
      cpu: capacity.cpu - reserved.cpu - daemonsets.cpu,
      memory: capacity.memory - reserved.memory - daemonsets.memory,
    },
  };
}

export function gkeNodeBudget(shape: NodeShape): NodeBudget {
  return budget(
    shape,
    { cpu: gkeReservedCpu(shape.vcpu), memory: gkeReservedMemory(shape.memoryGiB) },
    GKE_DAEMONSETS,
  );
}

export function k3sNodeBudget(shape: NodeShape): NodeBudget {
  const reserved = {
    cpu: cores(K3S_RESERVED.kube.cpu) + cores(K3S_RESERVED.system.cpu),
    memory: mib(K3S_RESERVED.kube.memory) + mib(K3S_RESERVED.system.memory) + mib(K3S_RESERVED.evictionHard),
  };
  return budget(shape, reserved, { cpu: 0, memory: 0 });
}

/** A Kubernetes `{ cpu, memory }` request as an Amount. */
export function amountOf(requests: { cpu: string; memory: string }): Amount {
  return { cpu: cores(requests.cpu), memory: mib(requests.memory) };
}

export function addAmounts(...xs: Amount[]): Amount {
  return xs.reduce((a, b) => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory }), { cpu: 0, memory: 0 });
}
