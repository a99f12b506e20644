/**
 * The pack's policies, each at its default enforcement level. Kept apart from index.ts because
 * constructing the PolicyPack starts the analyzer's gRPC server: tests import this file instead.
 */
import type { Policies } from "@pulumi/policy";
import { configMapNoPlaintextSecrets } from "./policies/configmap-no-plaintext-secrets";
import { defaultDenyNetworkPolicy } from "./policies/default-deny-network-policy";
import { dropAllCapabilities } from "./policies/drop-all-capabilities";
import { hpaReplicaBounds } from "./policies/hpa-replica-bounds";
import { hpaTargetWithoutReplicas } from "./policies/hpa-target-without-replicas";
import { imagePinned } from "./policies/image-pinned";
import { modelVolumesReadOnly } from "./policies/model-volumes-read-only";
import { namespacePodSecurity } from "./policies/namespace-pod-security";
import { noHostNamespaces } from "./policies/no-host-namespaces";
import { noPrivilegeEscalation } from "./policies/no-privilege-escalation";
import { noPrivilegedContainers } from "./policies/no-privileged-containers";
import { readOnlyRootFilesystem } from "./policies/read-only-root-filesystem";
import { resourceRequestsLimits } from "./policies/resource-requests-limits";
import { runAsNonRoot } from "./policies/run-as-non-root";
import { seccompRuntimeDefault } from "./policies/seccomp-runtime-default";
import { serviceAccountToken } from "./policies/service-account-token";

export const PACK_NAME = "agent-fleet";

export const PACK_DESCRIPTION =
  "agent-fleet's guard rails for Kubernetes: restricted pod security, resource bounds, pinned images, read-only model volumes, default-deny networking, HPA-safe workloads and no secrets in ConfigMaps.";

export function agentFleetPolicies(): Policies {
  return [
    // Pod security (the restricted Pod Security Standard, checked before the API server sees it).
    runAsNonRoot(),
    readOnlyRootFilesystem(),
    noPrivilegeEscalation(),
    dropAllCapabilities(),
    seccompRuntimeDefault(),
    noHostNamespaces(),
    noPrivilegedContainers(),
    serviceAccountToken(),
    // Resources, images and data.
    resourceRequestsLimits(),
    imagePinned(),
    modelVolumesReadOnly(),
    configMapNoPlaintextSecrets(),
    // Namespaces, networking and autoscaling.
    namespacePodSecurity(),
    defaultDenyNetworkPolicy(),
    hpaReplicaBounds(),
    hpaTargetWithoutReplicas(),
  ];
}
