import { describe, expect, it } from "vitest";
import { defaultDenyNetworkPolicy } from "../../policy/src/policies/default-deny-network-policy";
import { hpaTargetWithoutReplicas } from "../../policy/src/policies/hpa-target-without-replicas";
import {
  TYPES,
  allowDns,
  configMap,
  defaultDeny,
  deployment,
  hpa,
  job,
  namespace,
  statefulSet,
  type DeploymentProps,
  type NetworkPolicyProps,
  type StatefulSetProps,
} from "./support/fixtures";
import { k8sOutputs, runStackPolicy, urnOf, type StackFixture } from "./support/harness";

/** The API server fills in replicas: 1 when a Deployment or StatefulSet is created without it. */
function withServerReplicas(live: Record<string, unknown>): void {
  const spec = live.spec as { replicas?: number } | undefined;
  if (spec && spec.replicas === undefined) spec.replicas = 1;
}

const workload = (type: string, name: string, props: DeploymentProps | StatefulSetProps): StackFixture => ({
  type,
  name,
  props,
  outputs: k8sOutputs(props, withServerReplicas),
});

/** A stack like the fleet's: namespace, policies, two agents under HPAs, the loader Job, a ConfigMap. */
function fleet(): StackFixture[] {
  return [
    { type: TYPES.Namespace, name: "fleet-namespace", props: namespace() },
    { type: TYPES.NetworkPolicy, name: "fleet-netpol-default-deny", props: defaultDeny() },
    { type: TYPES.NetworkPolicy, name: "fleet-netpol-allow-dns", props: allowDns() },
    workload(TYPES.Deployment, "backend-workload", deployment()),
    workload(TYPES.StatefulSet, "python-workload", statefulSet()),
    { type: TYPES.Job, name: "models-loader", props: job() },
    { type: TYPES.HpaV2, name: "backend-hpa", props: hpa() },
    { type: TYPES.HpaV2, name: "python-hpa", props: hpa({ kind: "StatefulSet", name: "agent-python" }) },
    { type: TYPES.ConfigMap, name: "backend-config", props: configMap() },
    { type: "agent-fleet:k8s:AgentPool", name: "backend", props: {} },
  ];
}

function replace(stack: StackFixture[], name: string, change: (f: StackFixture) => StackFixture | undefined) {
  return stack.flatMap((f) => (f.name === name ? (change(f) ?? []) : [f]));
}

describe("namespace-default-deny-network-policy", () => {
  const policy = defaultDenyNetworkPolicy();
  const message = (ns: string, first: string, more: string) =>
    `Namespace ${ns}: runs ${first}${more} but has no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress, Egress], no rules). Without one every pod in it accepts connections from, and can connect to, any pod in the cluster and the internet, so the fleet's allow-list policies restrict nothing. Add a NetworkPolicy like FleetNetworkPolicies' "default-deny" to the namespace.`;

  it("accepts the fleet's stack", async () => {
    expect(await runStackPolicy(policy, fleet())).toEqual({ violations: [] });
  });

  it("reports a namespace whose default-deny is missing, on the Namespace resource", async () => {
    const stack = replace(fleet(), "fleet-netpol-default-deny", () => undefined);
    expect((await runStackPolicy(policy, stack)).violations).toEqual([
      {
        message: message("agent-fleet", "Deployment agent-fleet/agent-backend", " and 2 more workloads"),
        urn: urnOf({ type: TYPES.Namespace, name: "fleet-namespace" }),
      },
    ]);
  });

  it.each([
    [
      "selects some pods",
      (p: NetworkPolicyProps) => p.spec && (p.spec.podSelector = { matchLabels: { app: "x" } }),
    ],
    ["covers Ingress only", (p: NetworkPolicyProps) => p.spec && (p.spec.policyTypes = ["Ingress"])],
    [
      "allows some egress",
      (p: NetworkPolicyProps) => p.spec && (p.spec.egress = [{ ports: [{ port: 443 }] }]),
    ],
  ])("does not count a policy that %s", async (_what, breakIt) => {
    const stack = replace(fleet(), "fleet-netpol-default-deny", (f) => {
      const props = defaultDeny();
      breakIt(props);
      return { ...f, props };
    });
    expect((await runStackPolicy(policy, stack)).violations).toHaveLength(1);
  });

  it("reports a namespace the stack does not create, on its first workload", async () => {
    const other = deployment();
    if (other.metadata) other.metadata.namespace = "tools";
    const stack = [...fleet(), workload(TYPES.Deployment, "tools-workload", other)];
    expect((await runStackPolicy(policy, stack)).violations).toEqual([
      {
        message: message("tools", "Deployment tools/agent-backend", ""),
        urn: urnOf({ type: TYPES.Deployment, name: "tools-workload" }),
      },
    ]);
  });

  it("uses the namespace the object landed in (provider default) when the inputs name none", async () => {
    const d = deployment();
    if (d.metadata) delete d.metadata.namespace;
    const outputs = k8sOutputs(d, (live) => {
      (live.metadata as { namespace?: string }).namespace = "from-kubeconfig";
    });
    const stack: StackFixture[] = [
      { type: TYPES.Deployment, name: "backend-workload", props: d, outputs },
      { type: TYPES.NetworkPolicy, name: "deny", props: defaultDeny("from-kubeconfig") },
    ];
    expect((await runStackPolicy(policy, stack)).violations).toEqual([]);
  });

  it("honours the exempt config", async () => {
    const stack = replace(fleet(), "fleet-netpol-default-deny", () => undefined);
    expect(await runStackPolicy(policy, stack, { exempt: ["Namespace agent-fleet"] })).toEqual({
      violations: [],
    });
  });

  it("is not applicable to a stack without workloads", async () => {
    const stack = [{ type: TYPES.Namespace, name: "fleet-namespace", props: namespace() }];
    expect(await runStackPolicy(policy, stack)).toEqual({
      violations: [],
      notApplicable: "The stack has no workloads",
    });
  });
});

describe("hpa-target-without-replicas", () => {
  const policy = hpaTargetWithoutReplicas();
  const message = (ref: string, replicas: number, hpaRef: string) =>
    `${ref}: sets spec.replicas (${replicas}) but ${hpaRef} scales it. Each \`pulumi up\` would reset the replica count to ${replicas}, undoing the HPA's scaling (a rollout under load drops pods, then the HPA scales them back). Remove spec.replicas from the workload while the HPA manages it.`;

  it("accepts the fleet's stack, although the live objects carry the server's replicas: 1", async () => {
    expect(await runStackPolicy(policy, fleet())).toEqual({ violations: [] });
  });

  it("does not count replicas its HPA wrote (the controller owns them, not the provider)", async () => {
    const stack = replace(fleet(), "backend-workload", (f) => {
      const outputs = k8sOutputs(deployment(), (live) => ((live.spec as { replicas?: number }).replicas = 4));
      const meta = outputs.metadata as { managedFields: object[] };
      meta.managedFields.push({
        manager: "kube-controller-manager",
        operation: "Update",
        subresource: "scale",
        fieldsType: "FieldsV1",
        fieldsV1: { "f:spec": { "f:replicas": {} } },
      });
      return { ...f, outputs };
    });
    expect((await runStackPolicy(policy, stack)).violations).toEqual([]);
  });

  it.each([
    ["preview of a create: the outputs are the inputs", (d: DeploymentProps) => d],
    [
      "client-side apply: the last-applied configuration holds them",
      (d: DeploymentProps) => ({
        ...d,
        metadata: {
          ...d.metadata,
          annotations: { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(d) },
        },
      }),
    ],
  ])("reads declared replicas without server-side apply records (%s)", async (_how, outputsOf) => {
    const d = deployment();
    if (d.spec) d.spec.replicas = 3;
    const stack = replace(fleet(), "backend-workload", (f) => ({ ...f, props: d, outputs: outputsOf(d) }));
    expect((await runStackPolicy(policy, stack)).violations.map((v) => v.urn)).toEqual([
      urnOf({ type: TYPES.Deployment, name: "backend-workload" }),
    ]);
  });

  it("reports a Deployment under an HPA that declares replicas, on the Deployment", async () => {
    const stack = replace(fleet(), "backend-workload", (f) => {
      const d = deployment();
      if (d.spec) d.spec.replicas = 3;
      return workload(f.type, f.name, d);
    });
    expect((await runStackPolicy(policy, stack)).violations).toEqual([
      {
        message: message(
          "Deployment agent-fleet/agent-backend",
          3,
          "HorizontalPodAutoscaler agent-fleet/agent-backend",
        ),
        urn: urnOf({ type: TYPES.Deployment, name: "backend-workload" }),
      },
    ]);
  });

  it("reports a StatefulSet the same way", async () => {
    const stack = replace(fleet(), "python-workload", (f) => {
      const s = statefulSet();
      if (s.spec) s.spec.replicas = 2;
      return workload(f.type, f.name, s);
    });
    expect((await runStackPolicy(policy, stack)).violations).toEqual([
      {
        message: message(
          "StatefulSet agent-fleet/agent-python",
          2,
          "HorizontalPodAutoscaler agent-fleet/agent-python",
        ),
        urn: urnOf({ type: TYPES.StatefulSet, name: "python-workload" }),
      },
    ]);
  });

  it("matches kind, name and namespace: replicas on workloads no HPA targets are fine", async () => {
    const fixed = (change: (d: DeploymentProps) => void) => {
      const d = deployment();
      if (d.spec) d.spec.replicas = 1;
      change(d);
      return workload(TYPES.Deployment, "other", d);
    };
    const otherName = fixed((d) => d.metadata && (d.metadata.name = "agent-frontend"));
    const otherNamespace = fixed((d) => d.metadata && (d.metadata.namespace = "staging"));
    const stack = [...replace(fleet(), "backend-workload", () => undefined), otherName, otherNamespace];
    // The python HPA's target kind is StatefulSet: a Deployment of the same name is not its target.
    const sameNameOtherKind = fixed((d) => d.metadata && (d.metadata.name = "agent-python"));
    expect((await runStackPolicy(policy, [...stack, sameNameOtherKind])).violations).toEqual([]);
  });

  it("is not applicable to a stack without HPAs (the dev stack: fixed replicas)", async () => {
    const stack = fleet().filter((f) => f.type !== TYPES.HpaV2);
    expect(await runStackPolicy(policy, stack)).toEqual({
      violations: [],
      notApplicable: "The stack has no HorizontalPodAutoscalers",
    });
  });
});
