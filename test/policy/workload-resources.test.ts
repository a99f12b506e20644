import { describe, expect, it } from "vitest";
import { imagePinned, imageProblem } from "../../policy/src/policies/image-pinned";
import { modelVolumesReadOnly } from "../../policy/src/policies/model-volumes-read-only";
import { resourceRequestsLimits } from "../../policy/src/policies/resource-requests-limits";
import { serviceAccountToken } from "../../policy/src/policies/service-account-token";
import { readOnlyRootFilesystem } from "../../policy/src/policies/read-only-root-filesystem";
import {
  AGENT_IMAGE,
  TYPES,
  containerOf,
  cronJob,
  daemonSet,
  deployment,
  fixture,
  job,
  podOf,
  statefulSet,
  type Container,
  type PodSpec,
} from "./support/fixtures";
import { UNKNOWN, runResourcePolicy, type Fixture } from "./support/harness";

const DEPLOYMENT = "Deployment agent-fleet/agent-backend";
const STATEFULSET = "StatefulSet agent-fleet/agent-python";

function brokenDeployment(breakIt: (pod: PodSpec, agent: Container) => void): Fixture {
  const d = deployment();
  breakIt(podOf(d), containerOf(podOf(d), "agent"));
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

describe("resource, image, token and model-volume policies on compliant workloads", () => {
  const policies = [resourceRequestsLimits(), imagePinned(), serviceAccountToken(), modelVolumesReadOnly()];
  for (const policy of policies) {
    for (const workload of compliant) {
      it(`${policy.name} accepts the compliant ${workload.type}`, async () => {
        const outcome = await runResourcePolicy(policy, workload);
        expect(outcome.violations).toEqual([]);
      });
    }
  }
});

describe("workload-resource-requests-limits", () => {
  it.each([
    [
      "requests",
      "cpu",
      "Without a request the scheduler places the pod as if it needed nothing, so nodes overcommit and the HPA's CPU utilisation target has no baseline",
    ],
    [
      "requests",
      "memory",
      "Without a request the scheduler places the pod as if it needed nothing, so nodes overcommit and the HPA's CPU utilisation target has no baseline",
    ],
    [
      "limits",
      "cpu",
      "Without a limit one runaway task (a model loading twice, a prompt loop) can starve every other pod on the node",
    ],
    [
      "limits",
      "memory",
      "Without a limit one runaway task (a model loading twice, a prompt loop) can starve every other pod on the node",
    ],
  ] as const)("rejects a missing %s.%s", async (field, resource, why) => {
    const workload = brokenDeployment((_pod, agent) => {
      const values = agent.resources?.[field];
      if (values) delete values[resource];
    });
    expect((await runResourcePolicy(resourceRequestsLimits(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": resources.${field}.${resource} is not set. ${why}. Set resources.${field}.${resource}.`,
    ]);
  });

  it("rejects a container with no resources at all, once per missing value", async () => {
    const workload = brokenStatefulSet((pod) => {
      delete containerOf(pod, "model").resources;
    });
    const outcome = await runResourcePolicy(resourceRequestsLimits(), workload);
    expect(outcome.violations.map((v) => v.split(". ")[0])).toEqual([
      `${STATEFULSET}, init container "model": resources.requests.cpu is not set`,
      `${STATEFULSET}, init container "model": resources.limits.cpu is not set`,
      `${STATEFULSET}, init container "model": resources.requests.memory is not set`,
      `${STATEFULSET}, init container "model": resources.limits.memory is not set`,
    ]);
  });

  it("rejects a limit below its request, comparing quantities across units", async () => {
    const workload = brokenDeployment((_pod, agent) => {
      agent.resources = { requests: { cpu: "1500m", memory: "2Gi" }, limits: { cpu: "1", memory: "2048Mi" } };
    });
    expect((await runResourcePolicy(resourceRequestsLimits(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": resources.limits.cpu (1) is below resources.requests.cpu (1500m). The API server rejects a limit below its request, so the rollout fails. Raise the limit or lower the request.`,
    ]);
  });

  it("accepts equal limits and requests written in different units", async () => {
    const workload = brokenDeployment((_pod, agent) => {
      agent.resources = {
        requests: { cpu: "500m", memory: "1Gi" },
        limits: { cpu: "0.5", memory: "1024Mi" },
      };
    });
    expect((await runResourcePolicy(resourceRequestsLimits(), workload)).violations).toEqual([]);
  });

  it("rejects a value that is not a quantity", async () => {
    const workload = brokenDeployment((_pod, agent) => {
      agent.resources = { requests: { cpu: "1", memory: "2GB" }, limits: { cpu: "2", memory: "4Gi" } };
    });
    expect((await runResourcePolicy(resourceRequestsLimits(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": resources.requests.memory "2GB" is not a Kubernetes quantity (examples: 500m, 2, 8Gi). The API server rejects the pod. Fix the value.`,
    ]);
  });
});

describe("workload-no-service-account-token (advisory)", () => {
  it("defaults to advisory", () => {
    expect(serviceAccountToken().enforcementLevel).toBe("advisory");
  });

  it("flags a pod that does not opt out of the token", async () => {
    const workload = brokenDeployment((pod) => {
      delete pod.automountServiceAccountToken;
    });
    expect((await runResourcePolicy(serviceAccountToken(), workload)).violations).toEqual([
      `${DEPLOYMENT}: pod does not set automountServiceAccountToken: false. The pod gets a Kubernetes API token it does not use; anyone who compromises the process can use it against the API server with the service account's rights. Set automountServiceAccountToken: false on the pod spec, or, if the pod calls the API, add "${DEPLOYMENT}" to this policy's exempt config.`,
    ]);
  });

  it("accepts a pod that needs the API once it is listed in the exempt config", async () => {
    const workload = brokenDeployment((pod) => {
      pod.automountServiceAccountToken = true;
    });
    const outcome = await runResourcePolicy(serviceAccountToken(), workload, { exempt: [DEPLOYMENT] });
    expect(outcome).toEqual({
      violations: [],
      notApplicable: `${DEPLOYMENT} is exempt (policy config exempt: "${DEPLOYMENT}")`,
    });
  });
});

describe("workload-image-pinned (advisory)", () => {
  const WHY =
    "A tag can be moved to other content, so two pods of one rollout can run different code, a rollback may not restore what ran before, and preview cannot show an image change. Reference the image by digest (name@sha256:...).";

  it("defaults to advisory", () => {
    expect(imagePinned().enforcementLevel).toBe("advisory");
  });

  it.each([
    [
      "registry.example.com/agent-fleet/agent:latest",
      'image "registry.example.com/agent-fleet/agent:latest" uses the :latest tag',
    ],
    ["redis", 'image "redis" has no tag, so it means :latest'],
    ["localhost:5000/agent", 'image "localhost:5000/agent" has no tag, so it means :latest'],
    ["agent@sha256:abc", 'image "agent@sha256:abc" has a malformed digest'],
  ])("flags %s", async (image, problem) => {
    const workload = brokenDeployment((_pod, agent) => {
      agent.image = image;
    });
    expect((await runResourcePolicy(imagePinned(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": ${problem}. ${WHY}`,
    ]);
  });

  it("accepts a version tag unless requireDigest is set", async () => {
    const workload = brokenDeployment((_pod, agent) => {
      agent.image = "registry.k8s.io/volume-nfs:0.8";
    });
    expect((await runResourcePolicy(imagePinned(), workload)).violations).toEqual([]);
    expect((await runResourcePolicy(imagePinned(), workload, { requireDigest: true })).violations).toEqual([
      `${DEPLOYMENT}, container "agent": image "registry.k8s.io/volume-nfs:0.8" is not pinned by digest. ${WHY}`,
    ]);
  });

  it("accepts tag plus digest, and a registry port", () => {
    expect(imageProblem(`localhost:5000/agent:1.2@sha256:${"0".repeat(64)}`, true)).toBeUndefined();
    expect(imageProblem("localhost:5000/agent:1.2", false)).toBeUndefined();
    expect(AGENT_IMAGE).toMatch(/@sha256:/);
  });

  it("rejects a container without an image", async () => {
    const workload = brokenDeployment((_pod, agent) => {
      delete agent.image;
    });
    expect((await runResourcePolicy(imagePinned(), workload)).violations).toEqual([
      `${DEPLOYMENT}, container "agent": no image is set. The API server rejects a container without an image, so the rollout fails. Set the image, by digest (name@sha256:...).`,
    ]);
  });

  it("cannot judge an image built in the same update during preview, while the other policies still run", async () => {
    // The agent image's digest is an output of the image build: unknown until `pulumi up` builds it.
    const workload = brokenDeployment((_pod, agent) => {
      agent.image = UNKNOWN;
    });
    await expect(runResourcePolicy(imagePinned(), workload)).rejects.toThrow(
      "value at .spec.template.spec.containers.0.image can't be known during preview",
    );
    expect((await runResourcePolicy(readOnlyRootFilesystem(), workload)).violations).toEqual([]);
    expect((await runResourcePolicy(resourceRequestsLimits(), workload)).violations).toEqual([]);
  });
});

describe("workload-model-volumes-read-only", () => {
  const WHY =
    "Every model-backed agent shares one copy of the model files; a pod that can write them can corrupt or swap the model under all the others, after the loader verified its checksum.";

  it("rejects a read-write mount of the models claim", async () => {
    const workload = brokenStatefulSet((pod) => {
      const mount = containerOf(pod, "model").volumeMounts?.find((m) => m.name === "models");
      if (mount) mount.readOnly = false;
    });
    expect((await runResourcePolicy(modelVolumesReadOnly(), workload)).violations).toEqual([
      `${STATEFULSET}, init container "model": volumeMount "models" at /models (claim "models") is not readOnly. ${WHY} Set readOnly: true on the mount.`,
    ]);
  });

  it("rejects a models claim volume that is not readOnly", async () => {
    const workload = brokenStatefulSet((pod) => {
      const volume = pod.volumes?.find((v) => v.name === "models");
      if (volume?.persistentVolumeClaim) delete volume.persistentVolumeClaim.readOnly;
    });
    expect((await runResourcePolicy(modelVolumesReadOnly(), workload)).violations).toEqual([
      `${STATEFULSET}, volume "models": persistentVolumeClaim "models" is not readOnly. ${WHY} Set persistentVolumeClaim.readOnly: true.`,
    ]);
  });

  it("checks every claim whose name starts with the prefix, whatever the volume is called", async () => {
    const workload = brokenDeployment((pod, agent) => {
      pod.volumes = [
        ...(pod.volumes ?? []),
        { name: "weights", persistentVolumeClaim: { claimName: "models-writer" } },
      ];
      agent.volumeMounts = [...(agent.volumeMounts ?? []), { name: "weights", mountPath: "/weights" }];
    });
    expect((await runResourcePolicy(modelVolumesReadOnly(), workload)).violations).toEqual([
      `${DEPLOYMENT}, volume "weights": persistentVolumeClaim "models-writer" is not readOnly. ${WHY} Set persistentVolumeClaim.readOnly: true.`,
      `${DEPLOYMENT}, container "agent": volumeMount "weights" at /weights (claim "models-writer") is not readOnly. ${WHY} Set readOnly: true on the mount.`,
    ]);
  });

  it("leaves other claims alone", async () => {
    const workload = brokenDeployment((pod, agent) => {
      pod.volumes = [...(pod.volumes ?? []), { name: "data", persistentVolumeClaim: { claimName: "data" } }];
      agent.volumeMounts = [...(agent.volumeMounts ?? []), { name: "data", mountPath: "/data" }];
    });
    expect((await runResourcePolicy(modelVolumesReadOnly(), workload)).violations).toEqual([]);
  });

  it("allows the loader Job to write (default exemption), but no other Job", async () => {
    const loader = fixture(TYPES.Job, "models-loader", job());
    expect(await runResourcePolicy(modelVolumesReadOnly(), loader)).toEqual({
      violations: [],
      notApplicable:
        'Job agent-fleet/model-loader-0123456789 is exempt (policy config exempt: "Job */model-loader-*")',
    });
    const other = job();
    other.metadata = { name: "fine-tune", namespace: "agent-fleet" };
    expect(
      (await runResourcePolicy(modelVolumesReadOnly(), fixture(TYPES.Job, "fine-tune", other))).violations,
    ).toEqual([
      `Job agent-fleet/fine-tune, volume "models": persistentVolumeClaim "models-staging" is not readOnly. ${WHY} Set persistentVolumeClaim.readOnly: true.`,
      `Job agent-fleet/fine-tune, container "loader": volumeMount "models" at /models (claim "models-staging") is not readOnly. ${WHY} Set readOnly: true on the mount.`,
    ]);
  });

  it("follows the claimPrefix config", async () => {
    const workload = brokenStatefulSet((pod) => {
      const volume = pod.volumes?.find((v) => v.name === "models");
      if (volume?.persistentVolumeClaim) delete volume.persistentVolumeClaim.readOnly;
    });
    const outcome = await runResourcePolicy(modelVolumesReadOnly(), workload, { claimPrefix: "weights" });
    expect(outcome.violations).toEqual([]);
  });
});
