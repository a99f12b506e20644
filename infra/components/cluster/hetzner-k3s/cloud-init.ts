/**
 * Pure builders for the cloud-init of HetznerK3sCluster nodes: the K3s config file, the pre-created
 * cluster CA files and the bootstrap script. Everything here takes plain strings; the component
 * resolves its Outputs with `pulumi.all(...).apply(...)` and marks the result secret (it holds the
 * join tokens, and on the first server the CA keys).
 *
 * K3s reads /etc/rancher/k3s/config.yaml (keys = CLI flag names), so tokens never appear on a
 * command line or in the process environment. The node's private address and interface are only
 * known on the machine (Hetzner attaches the private network a few seconds after boot, and the
 * interface name differs between server generations: ens10, enp7s0), so the bootstrap script
 * reads them from the Hetzner metadata service and appends node-ip / flannel-iface before it
 * installs K3s. The same script therefore serves servers Pulumi creates and servers the cluster
 * autoscaler creates.
 */
import { stringify } from "yaml";

/** Where K3s keeps its CAs; files present before the first start are used instead of generated ones. */
export const K3S_TLS_DIR = "/var/lib/rancher/k3s/server/tls";
export const K3S_CONFIG_PATH = "/etc/rancher/k3s/config.yaml";
export const BOOTSTRAP_PATH = "/usr/local/sbin/agent-fleet-k3s-bootstrap";
const K3S_VERSION = /^v\d+\.\d+\.\d+\+k3s\d+$/;
/** K3s's default pod and Service ranges; the cluster's private network must not overlap them. */
export const K3S_CLUSTER_CIDR = "10.42.0.0/16";
export const K3S_SERVICE_CIDR = "10.43.0.0/16";

/**
 * Resources the kubelet keeps back from pods on every node (flags below). K3s sets none by default;
 * setting them makes node allocatable predictable, and the capacity report (infra/cost) subtracts
 * exactly these numbers. K3s runs kubelet, containerd, flannel and kube-proxy in one process, so
 * kube-reserved covers all of them.
 */
export const K3S_RESERVED = {
  kube: { cpu: "200m", memory: "512Mi" },
  system: { cpu: "100m", memory: "256Mi" },
  evictionHard: "100Mi",
} as const;

export const KUBELET_ARGS = [
  // The hcloud cloud-controller-manager initialises nodes (provider ID, addresses, zone labels).
  "cloud-provider=external",
  `kube-reserved=cpu=${K3S_RESERVED.kube.cpu},memory=${K3S_RESERVED.kube.memory}`,
  `system-reserved=cpu=${K3S_RESERVED.system.cpu},memory=${K3S_RESERVED.system.memory}`,
  `eviction-hard=memory.available<${K3S_RESERVED.evictionHard}`,
];

/**
 * Dedicated control-plane servers: only critical add-ons (CoreDNS, metrics-server, the hcloud
 * controllers, the cluster autoscaler) tolerate this taint, so agents never land there.
 */
export const CONTROL_PLANE_TAINT = "CriticalAddonsOnly=true:NoExecute";

export interface NodeTaint {
  key: string;
  value: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

export interface PemPair {
  cert: string;
  key: string;
}

/** The CAs K3s would otherwise generate on first start, and the service-account signing key. */
export interface K3sCaBundle {
  clientCa: PemPair;
  serverCa: PemPair;
  requestHeaderCa: PemPair;
  etcdPeerCa: PemPair;
  etcdServerCa: PemPair;
  serviceKey: string;
}

/** File names under K3S_TLS_DIR, as K3s looks for them. */
export const CA_FILES: Record<Exclude<keyof K3sCaBundle, "serviceKey">, string> = {
  clientCa: "client-ca",
  serverCa: "server-ca",
  requestHeaderCa: "request-header-ca",
  etcdPeerCa: "etcd/peer-ca",
  etcdServerCa: "etcd/server-ca",
};

export interface K3sServerInit {
  k3sVersion: string;
  /** Server token: joins servers (and could join agents). */
  token: string;
  /** Agent-only token: what workers get, so a compromised worker cannot join as a server. */
  agentToken: string;
  /** `cluster-init` = first server of an embedded-etcd HA cluster; `single` = one server (SQLite); a URL = join it. */
  mode: "cluster-init" | "single" | { join: string };
  /** Extra subject alternative names of the API serving certificate (public and private IPs). */
  tlsSans: string[];
  /** Pre-created CAs; only the first server gets them (joining servers fetch them with the token). */
  cas?: K3sCaBundle;
}

export interface K3sAgentInit {
  k3sVersion: string;
  /** https://<first server private IP>:6443 */
  serverUrl: string;
  agentToken: string;
  labels: Record<string, string>;
  taints: NodeTaint[];
}

interface WriteFile {
  path: string;
  content: string;
  permissions: string;
}

/** What is wrong with a K3s version, or undefined when it is a K3s release. */
export function k3sVersionProblem(version: string): string | undefined {
  return K3S_VERSION.test(version)
    ? undefined
    : `expected a K3s release such as "v1.33.5+k3s1" (got "${version}")`;
}

/** /etc/rancher/k3s/config.yaml of a server (node-ip etc. are appended on the machine). */
export function k3sServerConfig(s: K3sServerInit): Record<string, unknown> {
  return {
    ...(s.mode === "cluster-init" ? { "cluster-init": true } : {}),
    ...(typeof s.mode === "object" ? { server: s.mode.join } : {}),
    token: s.token,
    "agent-token": s.agentToken,
    // Istio's gateways handle ingress and the hcloud CCM provisions load balancers; the hcloud CSI
    // driver's hcloud-volumes is the default StorageClass, so local-path would only compete with it.
    disable: ["traefik", "servicelb", "local-storage"],
    "disable-cloud-controller": true,
    "kubelet-arg": KUBELET_ARGS,
    "node-taint": [CONTROL_PLANE_TAINT],
    "tls-san": s.tlsSans,
    "secrets-encryption": true,
    "write-kubeconfig-mode": "0600",
  };
}

export function k3sAgentConfig(a: K3sAgentInit): Record<string, unknown> {
  return {
    server: a.serverUrl,
    token: a.agentToken,
    "kubelet-arg": KUBELET_ARGS,
    "node-label": Object.entries(a.labels).map(([k, v]) => `${k}=${v}`),
    "node-taint": a.taints.map((t) => `${t.key}=${t.value}:${t.effect}`),
  };
}

/**
 * Finds the private address (Hetzner metadata service) and the interface that carries it, appends
 * them to the K3s config, then installs the pinned K3s release with the official installer.
 */
export function bootstrapScript(role: "server" | "agent", k3sVersion: string): string {
  const problem = k3sVersionProblem(k3sVersion);
  if (problem) throw new Error(`k3sVersion: ${problem}`);
  const serverOnly = role === "server" ? 'echo "advertise-address: $IP" >> ' + K3S_CONFIG_PATH + "\n" : "";
  return `#!/bin/sh
# agent-fleet: join this node to the K3s cluster over the Hetzner private network.
set -eu
META=http://169.254.169.254/hetzner/v1/metadata/private-networks
IP=""
IFACE=""
for _ in $(seq 1 60); do
  IP=$(curl -fsS "$META" 2>/dev/null | sed -n 's/^- ip: *//p' | head -n 1) || IP=""
  if [ -n "$IP" ]; then
    IFACE=$(ip -4 -o addr show | awk -v ip="$IP" '{ split($4, a, "/"); if (a[1] == ip) print $2 }' | head -n 1)
  fi
  [ -n "$IFACE" ] && break
  sleep 5
done
if [ -z "$IFACE" ]; then
  echo "agent-fleet: the private network did not come up within 300 s" >&2
  exit 1
fi
cat >> ${K3S_CONFIG_PATH} <<EOF
node-ip: $IP
flannel-iface: $IFACE
EOF
${serverOnly}curl -sfL https://get.k3s.io | INSTALL_K3S_VERSION='${k3sVersion}' INSTALL_K3S_EXEC='${role}' sh -
`;
}

function renderCloudInit(files: WriteFile[]): string {
  return `#cloud-config\n${stringify(
    { write_files: files, runcmd: [[BOOTSTRAP_PATH]] },
    { lineWidth: 0, blockQuote: "literal" },
  )}`;
}

function configFile(config: Record<string, unknown>): WriteFile {
  return { path: K3S_CONFIG_PATH, permissions: "0600", content: stringify(config, { lineWidth: 0 }) };
}

/** The CA files of `cas` as write_files entries (keys 0600, certificates 0644). */
export function caFiles(cas: K3sCaBundle): WriteFile[] {
  const files: WriteFile[] = [];
  for (const [field, base] of Object.entries(CA_FILES) as [keyof typeof CA_FILES, string][]) {
    const pair = cas[field];
    files.push({ path: `${K3S_TLS_DIR}/${base}.crt`, content: pair.cert, permissions: "0644" });
    files.push({ path: `${K3S_TLS_DIR}/${base}.key`, content: pair.key, permissions: "0600" });
  }
  files.push({ path: `${K3S_TLS_DIR}/service.key`, content: cas.serviceKey, permissions: "0600" });
  return files;
}

/** Cloud-init user data of a control-plane server. Contains tokens (and CA keys): keep it secret. */
export function serverCloudInit(s: K3sServerInit): string {
  return renderCloudInit([
    configFile(k3sServerConfig(s)),
    ...(s.cas ? caFiles(s.cas) : []),
    { path: BOOTSTRAP_PATH, permissions: "0700", content: bootstrapScript("server", s.k3sVersion) },
  ]);
}

/** Cloud-init user data of a worker (fixed pools and the autoscaler's node groups alike). */
export function agentCloudInit(a: K3sAgentInit): string {
  return renderCloudInit([
    configFile(k3sAgentConfig(a)),
    { path: BOOTSTRAP_PATH, permissions: "0700", content: bootstrapScript("agent", a.k3sVersion) },
  ]);
}
