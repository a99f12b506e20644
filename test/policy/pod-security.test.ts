import { describe, expect, it } from "vitest";
import { dropAllCapabilities } from "../../policy/src/policies/drop-all-capabilities";
import { noHostNamespaces } from "../../policy/src/policies/no-host-namespaces";
import { noPrivilegeEscalation } from "../../policy/src/policies/no-privilege-escalation";
import { noPrivilegedContainers } from "../../policy/src/policies/no-privileged-containers";
import { readOnlyRootFilesystem } from "../../policy/src/policies/read-only-root-filesystem";
import { runAsNonRoot } from "../../policy/src/policies/run-as-non-root";
import { seccompRuntimeDefault } from "../../policy/src/policies/seccomp-runtime-default";
import {
  TYPES,
  containerOf,
  cronJob,
  daemonSet,
  deployment,
  fixture,
  job,
  podOf,
  securityOf,
  statefulSet,
  type PodSpec,
} from "./support/fixtures";
import { runResourcePolicy, type Fixture } from "./support/harness";

const DEPLOYMENT = "Deployment agent-fleet/agent-backend";
const STATEFULSET = "StatefulSet agent-fleet/agent-python";

/** The backend Deployment after `breakIt` changed its pod spec. */
function brokenDeployment(breakIt: (pod: PodSpec) => void): Fixture {
  const d = deployment();
  breakIt(podOf(d));
  return fixture(TYPES.Deployment, "backend-workload", d);
}

function brokenStatefulSet(breakIt: (pod: PodSpec) => void): Fixture {
  const s = statefulSet();
  breakIt(podOf(s));
  return fixture(TYPES.StatefulSet, "python-workload", s);
}

const compliant: Fixture[] = [
  fixture(TYPES.Deployment, "backend-workload", deployment()),
  fixture(TYPES.StatefulSet, "python-workload", statefulSet()),
  fixture(TYPES.Job, "models-loader", job()),
  fixture(TYPES.DaemonSet, "node-probe", daemonSet()),
  fixture(TYPES.CronJob, "queue-janitor", cronJob()),
];

const policies = [
  runAsNonRoot(),
  readOnlyRootFilesystem(),
  noPrivilegeEscalation(),
  dropAllCapabilities(),
  seccompRuntimeDefault(),
  noHostNamespaces(),
  noPrivilegedContainers(),
];

describe("pod security policies on compliant workloads", () => {
  for (const policy of policies) {
    for (const workload of compliant) {
      it(`${policy.name} accepts the compliant ${workload.type}`, async () => {
        expect(await runResourcePolicy(policy, workload)).toEqual({ violations: [] });
      });
    }
  }

  it("are not applicable to other kinds", async () => {
    const service = fixture(TYPES.Service, "svc", { metadata: { name: "agent-backend" } });
    expect(await runResourcePolicy(runAsNonRoot(), service)).toEqual({
      violations: [],
      notApplicable: "Policy only applies to Deployment, StatefulSet, DaemonSet, Job, CronJob resources",
    });
  });
});

describe("workload-run-as-non-root", () => {
  const WHY =
    "A process that may run as root turns any code-execution bug into root inside the container, one kernel bug away from the node, and the namespace's restricted Pod Security admission rejects the pod.";

  it("accepts runAsNonRoot set on the pod only", async () => {
    const workload = brokenDeployment((pod) => {
      delete securityOf(containerOf(pod, "agent")).runAsNonRoot;
    });
    expect((await runResourcePolicy(runAsNonRoot(), workload)).violations).toEqual([]);
  });

  it("rejects runAsNonRoot missing at both levels", async () => {
    const workload = brokenDeployment((pod) => {
      delete securityOf(containerOf(pod, "agent")).runAsNonRoot;
      delete pod.securityContext?.runAsNonRoot;
    });
    expect((await runResourcePolicy(runAsNonRoot(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": runAsNonRoot is not true on the container or the pod. ${WHY} Set securityContext.runAsNonRoot: true and a non-zero runAsUser (the fleet's images run as 10001).`,
    ]);
  });

  it("lets the container override the pod (runAsNonRoot false on the container)", async () => {
    const workload = brokenStatefulSet((pod) => {
      securityOf(containerOf(pod, "model")).runAsNonRoot = false;
    });
    expect((await runResourcePolicy(runAsNonRoot(), workload)).violations).toEqual([
      `${STATEFULSET}, init container "model": runAsNonRoot is not true on the container or the pod. ${WHY} Set securityContext.runAsNonRoot: true and a non-zero runAsUser (the fleet's images run as 10001).`,
    ]);
  });

  it("rejects uid 0", async () => {
    const workload = brokenDeployment((pod) => {
      securityOf(containerOf(pod, "agent")).runAsUser = 0;
    });
    expect((await runResourcePolicy(runAsNonRoot(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": runAsUser is 0 (root). ${WHY} Run as the image's unprivileged uid (10001).`,
    ]);
  });

  it("exempts the hcloud NFS model server by default, and nothing else", async () => {
    const nfs = statefulSet();
    nfs.metadata = { name: "models-nfs", namespace: "agent-fleet-storage" };
    delete podOf(nfs).securityContext;
    for (const c of podOf(nfs).containers) delete c.securityContext;
    const outcome = await runResourcePolicy(runAsNonRoot(), fixture(TYPES.StatefulSet, "models-nfs", nfs));
    expect(outcome).toEqual({
      violations: [],
      notApplicable:
        'StatefulSet agent-fleet-storage/models-nfs is exempt (policy config exempt: "StatefulSet *-storage/models-nfs")',
    });

    // Policy config replaces the default list.
    const configured = await runResourcePolicy(
      runAsNonRoot(),
      fixture(TYPES.StatefulSet, "models-nfs", nfs),
      {
        exempt: [],
      },
    );
    expect(configured.violations).toEqual([
      expect.stringMatching(
        /^StatefulSet agent-fleet-storage\/models-nfs, container "agent": runAsNonRoot is not true/,
      ),
    ]);
  });
});

describe("workload-read-only-root-filesystem", () => {
  it("rejects a writable root filesystem", async () => {
    const workload = brokenDeployment((pod) => {
      securityOf(containerOf(pod, "agent")).readOnlyRootFilesystem = false;
    });
    expect((await runResourcePolicy(readOnlyRootFilesystem(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": securityContext.readOnlyRootFilesystem is not true. A writable root filesystem lets a compromised process replace binaries or plant tools that survive until the container restarts. Set it to true and mount an emptyDir where the process needs scratch space (/tmp).`,
    ]);
  });

  it("checks init containers (the model sidecar)", async () => {
    const workload = brokenStatefulSet((pod) => {
      delete securityOf(containerOf(pod, "model")).readOnlyRootFilesystem;
    });
    expect((await runResourcePolicy(readOnlyRootFilesystem(), workload)).violations).toEqual([
      `${STATEFULSET}, init container "model": securityContext.readOnlyRootFilesystem is not true. A writable root filesystem lets a compromised process replace binaries or plant tools that survive until the container restarts. Set it to true and mount an emptyDir where the process needs scratch space (/tmp).`,
    ]);
  });

  // One helper extracts the pod spec of every kind: the same break is found in each.
  it.each([
    ["Job", TYPES.Job, job(), "Job agent-fleet/model-loader-0123456789", "loader"],
    ["DaemonSet", TYPES.DaemonSet, daemonSet(), "DaemonSet agent-fleet/node-probe", "probe"],
  ] as const)("finds the break in a %s", async (_kind, type, props, ref, container) => {
    delete securityOf(containerOf(podOf(props), container)).readOnlyRootFilesystem;
    const outcome = await runResourcePolicy(readOnlyRootFilesystem(), fixture(type, "w", props));
    expect(outcome.violations).toEqual([
      `${ref}, container "${container}": securityContext.readOnlyRootFilesystem is not true. A writable root filesystem lets a compromised process replace binaries or plant tools that survive until the container restarts. Set it to true and mount an emptyDir where the process needs scratch space (/tmp).`,
    ]);
  });

  it("finds the break in a CronJob's job template", async () => {
    const c = cronJob();
    const pod = c.spec?.jobTemplate.spec?.template.spec;
    if (!pod) throw new Error("fixture has no pod");
    delete securityOf(containerOf(pod, "janitor")).readOnlyRootFilesystem;
    const outcome = await runResourcePolicy(readOnlyRootFilesystem(), fixture(TYPES.CronJob, "janitor", c));
    expect(outcome.violations).toEqual([
      `CronJob agent-fleet/queue-janitor, container "janitor": securityContext.readOnlyRootFilesystem is not true. A writable root filesystem lets a compromised process replace binaries or plant tools that survive until the container restarts. Set it to true and mount an emptyDir where the process needs scratch space (/tmp).`,
    ]);
  });

  it("names the Pulumi resource when metadata.name is not set", async () => {
    const d = deployment();
    d.metadata = { namespace: "agent-fleet" };
    delete securityOf(containerOf(podOf(d), "agent")).readOnlyRootFilesystem;
    const outcome = await runResourcePolicy(
      readOnlyRootFilesystem(),
      fixture(TYPES.Deployment, "backend-abc123", d),
    );
    expect(outcome.violations[0]).toMatch(/^Deployment agent-fleet\/backend-abc123, container "agent": /);
  });
});

describe("workload-no-privilege-escalation", () => {
  it("rejects allowPrivilegeEscalation left unset", async () => {
    const workload = brokenDeployment((pod) => {
      delete securityOf(containerOf(pod, "agent")).allowPrivilegeEscalation;
    });
    expect((await runResourcePolicy(noPrivilegeEscalation(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": securityContext.allowPrivilegeEscalation is not false. Unless it is false, a setuid binary in the image can give the process more privileges than it started with, and restricted Pod Security admission rejects the pod. Set it to false.`,
    ]);
  });
});

describe("workload-drop-all-capabilities", () => {
  it("rejects a container that does not drop ALL", async () => {
    const workload = brokenDeployment((pod) => {
      securityOf(containerOf(pod, "agent")).capabilities = { drop: ["NET_RAW"] };
    });
    expect((await runResourcePolicy(dropAllCapabilities(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": securityContext.capabilities.drop does not include ALL. The runtime's default capabilities (such as NET_RAW and CHOWN) stay available to an attacker who gets code execution. Set capabilities.drop: ["ALL"].`,
    ]);
  });

  it("rejects added capabilities even when ALL is dropped", async () => {
    const workload = brokenDeployment((pod) => {
      securityOf(containerOf(pod, "agent")).capabilities = { drop: ["ALL"], add: ["NET_BIND_SERVICE"] };
    });
    expect((await runResourcePolicy(dropAllCapabilities(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": securityContext.capabilities.add grants NET_BIND_SERVICE. Every added capability widens what a compromised process can do to the node; the fleet's processes need none. Remove capabilities.add.`,
    ]);
  });
});

describe("workload-seccomp-runtime-default", () => {
  const WHY =
    "Without a filtering profile every system call reaches the kernel, so a kernel bug is directly exploitable from the container, and restricted Pod Security admission rejects the pod. Set securityContext.seccompProfile.type: RuntimeDefault on the pod.";

  it("accepts the profile set on the container only", async () => {
    const workload = brokenDeployment((pod) => {
      delete pod.securityContext?.seccompProfile;
    });
    expect((await runResourcePolicy(seccompRuntimeDefault(), workload)).violations).toEqual([]);
  });

  it("rejects a missing profile at both levels", async () => {
    const workload = brokenDeployment((pod) => {
      delete pod.securityContext?.seccompProfile;
      delete securityOf(containerOf(pod, "agent")).seccompProfile;
    });
    expect((await runResourcePolicy(seccompRuntimeDefault(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": no seccomp profile is set on the container or the pod. ${WHY}`,
    ]);
  });

  it("rejects Unconfined on the container even when the pod says RuntimeDefault", async () => {
    const workload = brokenDeployment((pod) => {
      securityOf(containerOf(pod, "agent")).seccompProfile = { type: "Unconfined" };
    });
    expect((await runResourcePolicy(seccompRuntimeDefault(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": seccompProfile.type is Unconfined on the container or the pod. ${WHY}`,
    ]);
  });
});

describe("workload-no-host-namespaces", () => {
  it.each([
    ["hostNetwork", "the node's network stack (every port on the node, traffic of other pods)"],
    ["hostPID", "the node's process table (signals to and /proc of every process on the node)"],
    ["hostIPC", "the node's IPC namespace (shared memory of every process on the node)"],
  ] as const)("rejects %s", async (field, shares) => {
    const workload = brokenDeployment((pod) => {
      pod[field] = true;
    });
    expect((await runResourcePolicy(noHostNamespaces(), workload)).violations).toEqual([
      `${DEPLOYMENT}: pod sets ${field}: true. The pod would share ${shares}, bypassing NetworkPolicies and container isolation. Remove ${field}.`,
    ]);
  });
});

describe("workload-no-privileged-containers", () => {
  it("rejects a privileged container", async () => {
    const workload = brokenDeployment((pod) => {
      securityOf(containerOf(pod, "agent")).privileged = true;
    });
    expect((await runResourcePolicy(noPrivilegedContainers(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": securityContext.privileged is true. A privileged container has every capability and the node's devices, so escaping to the node is trivial. Remove privileged (or move the workload to a namespace of its own and exempt it in this policy's config).`,
    ]);
  });
});
