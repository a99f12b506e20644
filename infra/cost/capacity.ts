/**
 * Capacity plan and cost from config alone: per node pool, the nodes the fleet needs at its minimum
 * and maximum scale and what they cost per month.
 *
 * Method: the pods of a pool (workloads.ts) are bin-packed onto nodes of the pool's machine type by
 * first-fit decreasing on both CPU and memory requests, against each node's allocatable resources
 * (overhead.ts). First-fit decreasing is what a scheduler filling nodes one by one achieves at
 * best, and unlike a per-resource ceiling (sum of requests / allocatable) it counts the space lost
 * when large pods leave gaps no pod fits into. Nodes at min = max(pool minNodes, packed pods at
 * min); nodes at max = max(nodes at min, packed pods at max), which must not exceed maxNodes.
 * GKE regional pools are packed as one pool (the autoscaler's bounds are totals across zones).
 */
import type { AgentType } from "../catalog";
import type { FleetConfig } from "../config/resolve";
import { gkeNodeBudget, k3sNodeBudget, type Amount, type NodeBudget } from "./overhead";
import {
  GCE_MACHINE_TYPES_TEXT,
  GCP,
  HETZNER,
  HOURS_PER_MONTH,
  gceHourlyPrice,
  gceMachineShape,
  type PriceTableInfo,
} from "../prices";
import { fleetPods, generalPool, type PodGroup } from "./workloads";

export interface ScalePoint {
  pods: number;
  /** Summed requests of the pool's pods. */
  requests: Amount;
  /** Nodes needed (undefined when the pool's node size is unknown: existing clusters, custom types). */
  nodes?: number;
  /** Monthly cost of those nodes (undefined without a price). */
  monthly?: number;
}

export interface PoolPlan {
  pool: string;
  /** Machine or server type. */
  nodeType?: string;
  budget?: NodeBudget;
  /** Monthly price of one node, disk and IPv4 included. */
  nodeMonthly?: number;
  bounds?: { minNodes: number; maxNodes: number };
  groups: PodGroup[];
  min: ScalePoint;
  max: ScalePoint;
}

export interface CapacityPlan {
  provider: FleetConfig["cluster"]["provider"];
  prices?: PriceTableInfo;
  pools: PoolPlan[];
  /** Costs that do not scale with the pools: the GKE management fee, K3s control-plane servers. */
  fixed: { item: string; monthly: number }[];
  /** Fixed + pools; undefined when a price is missing or on an existing cluster. */
  total?: { min: number; max: number };
  /** Reasons the fleet cannot run as configured (assertCapacity throws them). */
  problems: string[];
  /** What the plan could not check or price. */
  warnings: string[];
}

export class CapacityError extends Error {
  constructor(readonly problems: string[]) {
    super(`capacity check failed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "CapacityError";
  }
}

const fitsIn = (a: Amount, free: Amount) => a.cpu <= free.cpu + 1e-9 && a.memory <= free.memory + 1e-9;

/** The share of a node one pod takes: the larger of its CPU and memory shares of the allocatable. */
export function nodeShare(pod: Amount, allocatable: Amount): number {
  return Math.max(pod.cpu / allocatable.cpu, pod.memory / allocatable.memory);
}

/** First-fit decreasing on two dimensions; returns the node count. Pods larger than a node throw. */
export function packNodes(pods: Amount[], allocatable: Amount): number {
  const share = (p: Amount) => nodeShare(p, allocatable);
  const free: Amount[] = [];
  for (const pod of [...pods].sort((a, b) => share(b) - share(a))) {
    if (!fitsIn(pod, allocatable)) throw new Error("pod larger than a node");
    const node = free.find((f) => fitsIn(pod, f));
    if (node) {
      node.cpu -= pod.cpu;
      node.memory -= pod.memory;
    } else {
      free.push({ cpu: allocatable.cpu - pod.cpu, memory: allocatable.memory - pod.memory });
    }
  }
  return free.length;
}

const expand = (groups: PodGroup[], scale: "min" | "max") =>
  groups.flatMap((g) => Array<Amount>(g[scale]).fill(g.perPod));
const sum = (groups: PodGroup[], scale: "min" | "max"): Amount => ({
  cpu: groups.reduce((s, g) => s + g.perPod.cpu * g[scale], 0),
  memory: groups.reduce((s, g) => s + g.perPod.memory * g[scale], 0),
});
const cpuText = (m: number) => (m % 1000 === 0 ? `${m / 1000}` : (m / 1000).toFixed(2).replace(/0$/, ""));
const gibText = (mib: number) => `${(mib / 1024).toFixed(1)} GiB`;
export const amountText = (a: Amount) => `${cpuText(a.cpu)} CPU / ${gibText(a.memory)}`;

interface PoolSpec {
  nodeType: string;
  budget?: NodeBudget;
  nodeMonthly?: number;
  minNodes: number;
  maxNodes: number;
}

function poolSpecs(
  config: FleetConfig,
  problems: string[],
  warnings: string[],
): Record<string, PoolSpec> | undefined {
  const c = config.cluster;
  if (c.provider === "gke") {
    return Object.fromEntries(
      Object.entries(c.nodePools).map(([pool, p]) => {
        const shape = gceMachineShape(p.machineType);
        const hourly = gceHourlyPrice(c.region, p.machineType);
        const disk = GCP.regions[c.region]?.pdBalancedGbMonth;
        // Stack config admits only the table's machine types; a library caller's other one must not
        // pass unchecked.
        if (!shape)
          problems.push(
            `node pool ${pool}: machine type ${p.machineType} is not in infra/prices.ts, so its capacity cannot be checked; use one of ${GCE_MACHINE_TYPES_TEXT}`,
          );
        if (hourly === undefined || disk === undefined) {
          warnings.push(`node pool ${pool}: no price for ${p.machineType} in ${c.region} in infra/prices.ts`);
        }
        if (p.gpu)
          warnings.push(`node pool ${pool}: GPU ${p.gpu.type} x${p.gpu.count} per node is not priced`);
        if (p.spot) warnings.push(`node pool ${pool}: spot VMs costed at on-demand prices`);
        const spec: PoolSpec = {
          nodeType: p.machineType,
          minNodes: p.minNodes,
          maxNodes: p.maxNodes,
          ...(shape ? { budget: gkeNodeBudget(shape) } : {}),
          ...(hourly !== undefined && disk !== undefined
            ? { nodeMonthly: hourly * HOURS_PER_MONTH + p.diskSizeGb * disk }
            : {}),
        };
        return [pool, spec];
      }),
    );
  }
  if (c.provider === "hetzner-k3s") {
    return Object.fromEntries(
      Object.entries(c.nodePools).map(([pool, p]) => {
        const type = HETZNER.serverTypes[p.serverType];
        if (!type)
          problems.push(
            `node pool ${pool}: server type ${p.serverType} is not in infra/prices.ts, so its capacity cannot be checked; use one of ${Object.keys(HETZNER.serverTypes).join(", ")}`,
          );
        const spec: PoolSpec = {
          nodeType: p.serverType,
          minNodes: p.minNodes,
          maxNodes: p.maxNodes,
          ...(type ? { budget: k3sNodeBudget(type), nodeMonthly: type.monthly + HETZNER.ipv4Monthly } : {}),
        };
        return [pool, spec];
      }),
    );
  }
  return undefined;
}

function fixedCosts(config: FleetConfig, warnings: string[]): { item: string; monthly: number }[] {
  const c = config.cluster;
  if (c.provider === "gke") {
    return [{ item: "GKE cluster management fee", monthly: GCP.clusterFeeHour * HOURS_PER_MONTH }];
  }
  if (c.provider === "hetzner-k3s") {
    const type = HETZNER.serverTypes[c.controlPlane.serverType];
    if (!type) {
      warnings.push(`control plane: server type ${c.controlPlane.serverType} is not in infra/prices.ts`);
      return [];
    }
    const n = c.controlPlane.count;
    return [
      {
        item: `control plane ${n} x ${c.controlPlane.serverType}`,
        monthly: n * (type.monthly + HETZNER.ipv4Monthly),
      },
    ];
  }
  return [];
}

/** Pods that fit no node of their pool, with a message naming the agent and what to change. */
function oversized(
  pool: string,
  spec: PoolSpec & { budget: NodeBudget },
  groups: PodGroup[],
  config: FleetConfig,
): string[] {
  const key = config.cluster.provider === "gke" ? "machineType" : "serverType";
  return groups
    .filter((g) => g.max > 0 && !fitsIn(g.perPod, spec.budget.allocatable))
    .map(
      (g) =>
        `${g.agent ? `agent "${g.agent}"` : g.name}: one pod requests ${amountText(g.perPod)} (${g.parts.join(" + ")}), ` +
        `more than a ${spec.nodeType} node of pool "${pool}" can offer (${amountText(spec.budget.allocatable)} allocatable); ` +
        `choose a larger cluster.nodePools.${pool}.${key}${g.agent ? ` or lower agents.${g.agent}.resources.requests` : ""}`,
    );
}

/**
 * The agent whose max scale alone breaks the pool: packed at max with every other agent at min
 * (and the pool's other pods as they are), it still needs more than maxNodes. Undefined when no
 * single agent does, i.e. only the agents' max scales together overflow the pool.
 */
function culprit(groups: PodGroup[], allocatable: Amount, maxNodes: number): PodGroup | undefined {
  return groups
    .filter((g) => g.agent)
    .find((g) => {
      const pods = groups.flatMap((o) => Array<Amount>(o === g || !o.agent ? o.max : o.min).fill(o.perPod));
      return packNodes(pods, allocatable) > maxNodes;
    });
}

export function capacityPlan(config: FleetConfig): CapacityPlan {
  const problems: string[] = [];
  const warnings: string[] = [];
  const specs = poolSpecs(config, problems, warnings);
  const groups = fleetPods(config);
  if (specs && generalPool(config) === undefined) {
    problems.push(
      "cluster.nodePools: every pool has a NoSchedule/NoExecute taint, so the task router, Redis and the " +
        "platform add-ons have nowhere to run; leave at least one pool (normally agents) untainted",
    );
  }
  const names = [...new Set([...Object.keys(specs ?? {}), ...groups.map((g) => g.pool)])].filter(
    (pool) => specs?.[pool] !== undefined || groups.some((g) => g.pool === pool),
  );

  const pools: PoolPlan[] = names.map((pool) => {
    const own = groups.filter((g) => g.pool === pool);
    const spec = specs?.[pool];
    const point = (scale: "min" | "max"): ScalePoint => ({
      pods: own.reduce((s, g) => s + g[scale], 0),
      requests: sum(own, scale),
    });
    const plan: PoolPlan = { pool, groups: own, min: point("min"), max: point("max") };
    if (!spec) return plan;
    plan.nodeType = spec.nodeType;
    plan.bounds = { minNodes: spec.minNodes, maxNodes: spec.maxNodes };
    if (spec.nodeMonthly !== undefined) plan.nodeMonthly = spec.nodeMonthly;
    if (!spec.budget) return plan;
    plan.budget = spec.budget;
    const budget = spec.budget;
    const tooLarge = oversized(pool, { ...spec, budget }, own, config);
    if (tooLarge.length) {
      problems.push(...tooLarge);
      return plan;
    }
    const atMin = Math.max(spec.minNodes, packNodes(expand(own, "min"), budget.allocatable));
    const atMax = Math.max(atMin, packNodes(expand(own, "max"), budget.allocatable));
    plan.min.nodes = atMin;
    plan.max.nodes = atMax;
    if (spec.nodeMonthly !== undefined) {
      plan.min.monthly = atMin * spec.nodeMonthly;
      plan.max.monthly = atMax * spec.nodeMonthly;
    }
    if (atMax > spec.maxNodes) {
      const g = culprit(own, budget.allocatable, spec.maxNodes);
      const agents = own.filter((o) => o.agent && o.max > 0);
      const what = g
        ? `agent "${g.agent}" at its max scale (${g.max} pods of ${amountText(g.perPod)}) does not fit node pool "${pool}", even with the other agents at their minimum`
        : `the agents of node pool "${pool}" at their max scale (${agents.map((o) => `${o.agent} ${o.max}`).join(", ")}) do not fit it together`;
      problems.push(
        `${what}: the pool's pods at max scale need ${atMax} ${spec.nodeType} nodes but cluster.nodePools.${pool}.maxNodes is ${spec.maxNodes}; ` +
          `raise cluster.nodePools.${pool}.maxNodes to ${atMax} or lower ` +
          (g ? `agents.${g.agent}.maxReplicas` : "agents.<name>.maxReplicas") +
          ` (npm run cost -- --stack <stack> --details shows the pods)`,
      );
    }
    return plan;
  });

  const fixed = fixedCosts(config, warnings);
  const prices =
    config.cluster.provider === "gke" ? GCP : config.cluster.provider === "hetzner-k3s" ? HETZNER : undefined;
  const fixedSum = fixed.reduce((s, f) => s + f.monthly, 0);
  const priced = prices && pools.every((p) => p.min.monthly !== undefined && p.max.monthly !== undefined);
  const plan: CapacityPlan = { provider: config.cluster.provider, pools, fixed, problems, warnings };
  if (prices) plan.prices = prices;
  if (priced) {
    plan.total = {
      min: fixedSum + pools.reduce((s, p) => s + (p.min.monthly ?? 0), 0),
      max: fixedSum + pools.reduce((s, p) => s + (p.max.monthly ?? 0), 0),
    };
  }
  return plan;
}

/** Throws CapacityError naming the agent, its max scale and the pool's maxNodes when the fleet cannot fit. */
export function assertCapacity(config: FleetConfig): CapacityPlan {
  const plan = capacityPlan(config);
  if (plan.problems.length) throw new CapacityError(plan.problems);
  return plan;
}

/** What one pod of an agent costs per hour, and how that was derived. */
export interface AgentPodPrice {
  agent: AgentType;
  pool: string;
  nodeType: string;
  /** The node's price per hour: the plan's monthly node price (disk, IPv4 included) / HOURS_PER_MONTH. */
  nodeHourly: number;
  /** nodeShare of the pod's requests (containers and sidecars) on the node's allocatable. */
  share: number;
  /** nodeHourly × share. */
  hourly: number;
}

/**
 * The hourly price of one pod of each enabled agent whose pool the plan prices: the share of a
 * node the pod's requests take (as packing counts it) times that node's hourly price. Agents on an
 * existing cluster, or on a pool without a price or node size, are absent.
 */
export function agentPodPrices(plan: CapacityPlan): AgentPodPrice[] {
  const prices = new Map<AgentType, AgentPodPrice>();
  for (const p of plan.pools) {
    const { nodeType, nodeMonthly, budget } = p;
    if (nodeType === undefined || nodeMonthly === undefined || !budget) continue;
    const nodeHourly = nodeMonthly / HOURS_PER_MONTH;
    for (const g of p.groups) {
      // The canary group repeats its agent at the same size: the first group prices the agent.
      if (!g.agent || prices.has(g.agent)) continue;
      const share = nodeShare(g.perPod, budget.allocatable);
      prices.set(g.agent, {
        agent: g.agent,
        pool: p.pool,
        nodeType,
        nodeHourly,
        share,
        hourly: nodeHourly * share,
      });
    }
  }
  return [...prices.values()];
}
