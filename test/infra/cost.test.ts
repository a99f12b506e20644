/**
 * Capacity and cost of the three stacks against hand-computed expectations (no Pulumi runtime: the
 * plan is a pure function of the resolved config). Units below: CPU in millicores, memory in MiB.
 */
import { describe, expect, it } from "vitest";
import {
  assertCapacity,
  capacityPlan,
  packNodes,
  CapacityError,
  type PoolPlan,
} from "../../infra/cost/capacity";
import {
  gkeNodeBudget,
  gkeReservedCpu,
  gkeReservedMemory,
  k3sNodeBudget,
  type Amount,
} from "../../infra/cost/overhead";
import { gceHourlyPrice } from "../../infra/prices";
import { formatPlan, formatPlanMarkdown } from "../../infra/cost/report";
import { stackConfig } from "./support/stacks";

function pool(plan: { pools: PoolPlan[] }, name: string): PoolPlan {
  const p = plan.pools.find((x) => x.pool === name);
  if (!p) throw new Error(`no pool ${name}`);
  return p;
}

describe("node overhead", () => {
  it("follows GKE's documented reservations", () => {
    // 16 vCPU: 6% of 1000 + 1% of 1000 + 0.5% of 2000 + 0.25% of 12000 = 60 + 10 + 10 + 30 = 110m
    expect(gkeReservedCpu(16)).toBeCloseTo(110, 6);
    // 64 GiB: 25% of 4 + 20% of 4 + 10% of 8 + 6% of 48 = 1 + 0.8 + 0.8 + 2.88 = 5.48 GiB = 5611.52 MiB, + 100 eviction
    expect(gkeReservedMemory(64)).toBeCloseTo(5711.52, 6);
    // 128 GiB: 1 + 0.8 + 0.8 + 6% of 112 (6.72) = 9.32 GiB = 9543.68 MiB, + 100
    expect(gkeReservedMemory(128)).toBeCloseTo(9643.68, 6);
    // e2-standard-16: 16000 - 110 - 400 (DaemonSets) = 15490m; 65536 - 5711.52 - 512 = 59312.48 MiB
    expect(gkeNodeBudget({ vcpu: 16, memoryGiB: 64 }).allocatable).toEqual({
      cpu: expect.closeTo(15490, 6) as number,
      memory: expect.closeTo(59312.48, 6) as number,
    });
  });

  it("subtracts exactly the reservations K3s is started with", () => {
    // cpx51: 16000 - (200 + 100) = 15700m; 32768 - (512 + 256 + 100) = 31900 MiB
    expect(k3sNodeBudget({ vcpu: 16, memoryGiB: 32 }).allocatable).toEqual({ cpu: 15700, memory: 31900 });
  });

  it("packs first-fit decreasing on both resources", () => {
    const node = { cpu: 1000, memory: 1000 };
    // Three 600/100 pods cannot share a node by CPU although memory would allow it.
    expect(packNodes(Array<Amount>(3).fill({ cpu: 600, memory: 100 }), node)).toBe(3);
    // 600 + 400 fills one node exactly; the remaining 400 opens the second.
    expect(
      packNodes(
        [
          { cpu: 400, memory: 1 },
          { cpu: 600, memory: 1 },
          { cpu: 400, memory: 1 },
        ],
        node,
      ),
    ).toBe(2);
    expect(() => packNodes([{ cpu: 1001, memory: 1 }], node)).toThrow("pod larger than a node");
  });

  it("prices predefined machine types from per-vCPU and per-GiB rates", () => {
    // europe-west4 E2: 16 x 0.024 + 64 x 0.003216 = 0.384 + 0.205824
    expect(gceHourlyPrice("europe-west4", "e2-standard-16")).toBeCloseTo(0.589824, 9);
    expect(gceHourlyPrice("europe-west4", "a3-megagpu-8g")).toBeUndefined();
  });
});

describe("stack dev (existing cluster: requests only, no prices)", () => {
  it("sums the requests of 12 agents, the router and Redis", () => {
    const plan = capacityPlan(stackConfig("dev"));
    // Fixed mode, 1 pod each; no mesh (no proxies), echo executor (no model sidecar):
    // 12 agents x (100m, 256Mi) + router (100m, 128Mi) + redis (100m, 128Mi) = 1400m, 3072 + 256 = 3328 MiB
    expect(plan.pools.map((p) => p.pool)).toEqual(["any"]);
    const any = pool(plan, "any");
    expect(any.min).toEqual({ pods: 14, requests: { cpu: 1400, memory: 3328 } });
    expect(any.max).toEqual(any.min);
    expect(plan.total).toBeUndefined();
    expect(plan.fixed).toEqual([]);
    expect(plan.problems).toEqual([]);
    expect(formatPlan("dev", plan)).toContain(
      "pool  pods min/max    requests at min    requests at max\nany        14 / 14",
    );
  });
});

describe("stack staging (hetzner-k3s, EUR)", () => {
  const plan = capacityPlan(stackConfig("staging"));

  it("agents pool: 2 nodes at min, 5 at max (the pool's maxNodes)", () => {
    const agents = pool(plan, "agents");
    // Per pod (istio on, llm executor): python 4000+1000 (sidecar)+100 (proxy) = 5100m,
    //   8192+6144+128 = 14464 MiB; API agent 1100m, 2176 MiB; router 350m/384; redis 350m/640;
    //   models-nfs 250m/256; istiod 500m/2048; prometheus 500m/2048; prometheus-adapter 100m/256;
    //   kube-state-metrics 50m/128, alertmanager 50m/64 (alerts on), otel-collector 100m/256 (tracing).
    // min: python 1, 10 API agents 1 each, router 2:
    //   CPU 5100 + 11000 + 700 + 350 + 250 + 500 + 600 + 200 = 18700;
    //   memory 14464 + 21760 + 768 + 640 + 256 + 2048 + 2304 + 448 = 42688
    expect(agents.min).toMatchObject({ pods: 21, requests: { cpu: 18700, memory: 42688 } });
    // max: python 4; API 2+2+3+3+3+2+4+3+4+3 = 29:
    //   CPU 20400 + 31900 + 2600 = 54900; memory 57856 + 63104 + 6464 = 127424
    expect(agents.max).toMatchObject({ pods: 43, requests: { cpu: 54900, memory: 127424 } });
    // cpx51 allocatable 15700m / 31900 MiB. min: memory 42688/31900 -> 2 nodes (= minNodes).
    // max: ceiling 127424/31900 = 3.99 -> 4, but first-fit decreasing needs 5: 2 python of 14.1 GiB
    //   per node leave gaps only small pods fill, and Prometheus' 2 GiB no longer fits in them.
    expect([agents.min.nodes, agents.max.nodes]).toEqual([2, 5]);
    // cpx51 54.90 + IPv4 0.50 = 55.40 per node
    expect(agents.nodeMonthly).toBeCloseTo(55.4, 9);
    expect(agents.min.monthly).toBeCloseTo(110.8, 9);
    expect(agents.max.monthly).toBeCloseTo(277.0, 9);
  });

  it("ml pool: both ml pods share one ccx53", () => {
    const ml = pool(plan, "ml");
    // ml pod: 8000+1000+100 = 9100m; 32768+6144+128 = 39040 MiB. ccx53: 31700m / 130204 MiB.
    // 2 pods = 18200m / 78080 MiB -> 1 node (= minNodes)
    expect(ml.max).toMatchObject({ pods: 2, requests: { cpu: 18200, memory: 78080 }, nodes: 1 });
    expect(ml.min.nodes).toBe(1);
    // ccx53 192.49 + 0.50
    expect(ml.max.monthly).toBeCloseTo(192.99, 9);
  });

  it("totals include the control plane", () => {
    // 1 x cpx31: 13.60 + 0.50 = 14.10
    expect(plan.fixed).toEqual([
      { item: "control plane 1 x cpx31", monthly: expect.closeTo(14.1, 9) as number },
    ]);
    // min 110.80 + 192.99 + 14.10 = 317.89; max 277.00 + 192.99 + 14.10 = 484.09
    expect(plan.total?.min).toBeCloseTo(317.89, 9);
    expect(plan.total?.max).toBeCloseTo(484.09, 9);
    expect(plan.problems).toEqual([]);
    expect(plan.warnings).toEqual([]);
  });
});

describe("stack prod (gke, USD)", () => {
  const plan = capacityPlan(stackConfig("prod"));

  it("agents pool: 2 nodes at min, 7 of 8 at max", () => {
    const agents = pool(plan, "agents");
    // python 2..10 and its canary (1 pod, mesh canary); API max 5+5+3+8+3+2+4+3+4+3 = 40;
    // router 3 x (350m, 384); redis (1000+100, 2048+128); istiod 500m/2048; no NFS (filestore);
    // kube-prometheus-stack: prometheus 500m/2048, kube-state-metrics 50m/128, alertmanager 50m/64,
    // the operator 100m/128; grafana 100m/256; prometheus-adapter 100m/256.
    // min CPU 10200 + 11000 + 5100 + 1050 + 1100 + 500 + 900 = 29850;
    //   memory 28928 + 21760 + 14464 + 1152 + 2176 + 2048 + 2880 = 73408
    expect(agents.min).toMatchObject({ pods: 24, requests: { cpu: 29850, memory: 73408 } });
    // max CPU 51000 + 44000 + 5100 + 3550 = 103650; memory 144640 + 87040 + 14464 + 8256 = 254400
    expect(agents.max).toMatchObject({ pods: 62, requests: { cpu: 103650, memory: 254400 } });
    // e2-standard-16 allocatable 15490m / 59312.48 MiB; CPU-bound.
    // min: 29850/15490 = 1.93 -> 2 (3 python on one node = 15300m, the rest on the other).
    // max: 11 python at 3 per node -> 4 nodes (the 4th with 2 python + 4 API), API 40 - 4 = 36 at 14
    //   per node -> 3 more (14, 14, 8) = 7; redis, routers and the add-ons fit the gaps. 7 <= maxNodes 8.
    expect([agents.min.nodes, agents.max.nodes]).toEqual([2, 7]);
    // (0.589824 x 730 = 430.57152) + 100 GB pd-balanced x 0.11 = 441.57152 per node
    expect(agents.nodeMonthly).toBeCloseTo(441.57152, 6);
    expect(agents.min.monthly).toBeCloseTo(883.14304, 6);
    expect(agents.max.monthly).toBeCloseTo(3091.00064, 6);
  });

  it("ml pool: one ml pod per n2-highmem-16 (CPU-bound), 5 of 5 at max", () => {
    const ml = pool(plan, "ml");
    // ml pod 9100m: two need 18200m > 15490m allocatable, so 1 per node; 1..5 pods -> 1..5 nodes
    expect([ml.min.nodes, ml.max.nodes]).toEqual([1, 5]);
    // n2-highmem-16: 16 x 0.034773 + 128 x 0.004661 = 1.152976/h x 730 = 841.67248 + 11 disk = 852.67248
    expect(ml.nodeMonthly).toBeCloseTo(852.67248, 6);
    expect(ml.max.monthly).toBeCloseTo(4263.3624, 6);
  });

  it("totals include the GKE management fee", () => {
    // 0.10 x 730 = 73
    expect(plan.fixed).toEqual([
      { item: "GKE cluster management fee", monthly: expect.closeTo(73, 9) as number },
    ]);
    // min 73 + 883.14304 + 852.67248 = 1808.81552; max 73 + 3091.00064 + 4263.3624 = 7427.36304
    expect(plan.total?.min).toBeCloseTo(1808.81552, 6);
    expect(plan.total?.max).toBeCloseTo(7427.36304, 6);
    expect(plan.problems).toEqual([]);
  });
});

describe("assertCapacity", () => {
  it("names the agent whose max scale cannot fit, its max scale and the pool's maxNodes", () => {
    const config = stackConfig("prod", (v) => {
      v.agents = { ...(v.agents as object | undefined), python: { maxReplicas: 30 } };
    });
    // 31 python pods (30 + canary) at 3 per node = 11 nodes, + 40 API pods in the gaps and 3 more nodes = 14
    expect(() => assertCapacity(config)).toThrow(CapacityError);
    expect(() => assertCapacity(config)).toThrow(
      'agent "python" at its max scale (30 pods of 5.1 CPU / 14.1 GiB) does not fit node pool "agents", even with ' +
        "the other agents at their minimum: the pool's pods at max scale need 14 e2-standard-16 nodes but " +
        "cluster.nodePools.agents.maxNodes is 8; raise cluster.nodePools.agents.maxNodes to 14 or lower agents.python.maxReplicas",
    );
  });

  it("lists every agent's max scale when only their sum overflows", () => {
    const config = stackConfig("staging", (v) => {
      (
        (v.cluster as Record<string, unknown>).nodePools as Record<string, Record<string, number>>
      ).agents!.maxNodes = 4;
    });
    expect(() => assertCapacity(config)).toThrow(
      'the agents of node pool "agents" at their max scale (python 4, frontend 2, backend 2, devops 3, tester 3, ' +
        "researcher 3, coordinator 2, reviewer 4, security 3, data 4, integration 3) do not fit it together: the pool's " +
        "pods at max scale need 5 cpx51 nodes but cluster.nodePools.agents.maxNodes is 4",
    );
  });

  it("rejects a pod larger than any node of its pool", () => {
    const config = stackConfig("staging", (v) => {
      (
        (v.cluster as Record<string, unknown>).nodePools as Record<string, Record<string, string>>
      ).ml!.serverType = "ccx33";
    });
    // ccx33: 8000 - 300 = 7700m, 32768 - 868 = 31900 MiB < the ml pod's 9100m / 39040 MiB
    expect(() => assertCapacity(config)).toThrow(
      'agent "ml": one pod requests 9.1 CPU / 38.1 GiB (agent 8 CPU/32Gi + model sidecar 1 CPU/6Gi + istio-proxy ' +
        '100m CPU/128Mi), more than a ccx33 node of pool "ml" can offer (7.7 CPU / 31.2 GiB allocatable); choose a ' +
        "larger cluster.nodePools.ml.serverType or lower agents.ml.resources.requests",
    );
  });

  it("needs one untainted pool for the router, Redis and the add-ons", () => {
    const config = stackConfig("prod", (v) => {
      (
        (v.cluster as Record<string, unknown>).nodePools as Record<string, Record<string, unknown>>
      ).agents!.taints = [{ key: "dedicated", value: "agents", effect: "NoSchedule" }];
    });
    expect(() => assertCapacity(config)).toThrow("every pool has a NoSchedule/NoExecute taint");
  });

  it("never skips the check silently: a machine type the price table lacks is a stack config error, and a problem for callers that bypass the schema", () => {
    const setAgentsPool = (key: string, value: string) => (v: Record<string, unknown>) => {
      ((v.cluster as Record<string, unknown>).nodePools as Record<string, Record<string, unknown>>).agents![
        key
      ] = value;
    };
    expect(() => stackConfig("prod", setAgentsPool("machineType", "e2-standard-7"))).toThrow(
      'agent-fleet:cluster.nodePools.agents.machineType = "e2-standard-7": unknown machine type; allowed: e2-standard-{2,4,8,16,32}',
    );
    expect(() => stackConfig("staging", setAgentsPool("serverType", "cpx99"))).toThrow(
      'agent-fleet:cluster.nodePools.agents.serverType = "cpx99": unknown Hetzner server type; allowed: cx22, cx32',
    );
    const config = stackConfig("prod");
    if (config.cluster.provider !== "gke") throw new Error("prod is gke");
    config.cluster.nodePools.agents!.machineType = "e2-custom-8-16384";
    expect(() => assertCapacity(config)).toThrow(
      "node pool agents: machine type e2-custom-8-16384 is not in infra/prices.ts, so its capacity cannot be checked",
    );
  });

  it("passes the three stacks as configured", () => {
    for (const stack of ["dev", "staging", "prod"])
      expect(() => assertCapacity(stackConfig(stack))).not.toThrow();
  });
});

describe("the PR comment (--format markdown)", () => {
  const plan = capacityPlan(stackConfig("prod"));
  const total = plan.total ?? { min: 0, max: 0 };

  it("shows the totals at min and max scale and their change against the base branch", () => {
    const base = { ...plan, total: { min: total.min - 10, max: total.max + 20.5 } };
    const text = formatPlanMarkdown("prod", plan, { plan: base });
    expect(text).toContain(`| this branch | ${total.min.toFixed(2)} | ${total.max.toFixed(2)} |`);
    expect(text).toContain(
      `| base branch | ${(total.min - 10).toFixed(2)} | ${(total.max + 20.5).toFixed(2)} |`,
    );
    expect(text).toContain("| change | +10.00 | −20.50 |");
    expect(text).toContain("| pool | node type |");
    expect(text).toContain("| agents | e2-standard-16 |");
  });

  it("says why there is no comparison", () => {
    const text = formatPlanMarkdown("prod", plan, { missing: "no Pulumi.prod.yaml (a new stack)" });
    expect(text).toContain("Base branch: no Pulumi.prod.yaml (a new stack).");
    expect(text).not.toContain("| change |");
  });
});
