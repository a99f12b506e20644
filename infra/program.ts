/**
 * The program: validated config in, the whole fleet out. `main.ts` (what `pulumi up` runs) and the
 * offline renderer both call `deployFleet`, so what render shows is what `pulumi up` creates.
 */
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { FleetConfig } from "./config";
import type { KubernetesCluster } from "./components/cluster";
import { createCluster } from "./clusters";

export interface FleetOutputs {
  namespace: pulumi.Output<string>;
  agents: string[];
  kubeconfig: pulumi.Output<string>;
}

export function deployFleet(
  config: FleetConfig,
  cluster: KubernetesCluster = createCluster(config),
): FleetOutputs {
  const opts = { provider: cluster.provider };
  const labels = { "app.kubernetes.io/part-of": "agent-fleet" };
  const ns = new k8s.core.v1.Namespace(
    "namespace",
    {
      metadata: {
        name: config.namespace,
        labels: {
          ...labels,
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
        },
      },
    },
    opts,
  );
  for (const agent of config.enabledAgents) {
    new k8s.core.v1.ConfigMap(
      `agent-${agent.name}-settings`,
      {
        metadata: { name: `agent-${agent.name}`, namespace: ns.metadata.name, labels },
        data: {
          AGENT_TYPE: agent.name,
          CONCURRENCY: String(agent.concurrency),
          TASK_TYPES: agent.taskTypes.join(","),
        },
      },
      opts,
    );
  }
  return {
    namespace: ns.metadata.name,
    agents: config.enabledAgents.map((a) => a.name),
    kubeconfig: cluster.kubeconfig,
  };
}
