#!/usr/bin/env bash
# A throwaway single-node Kubernetes cluster that runs pods, for the node suite (test/node): the
# e2e control plane (test/e2e/cluster.sh) plus containerd, kubelet, kube-scheduler, kube-proxy and
# CoreDNS, every process inside one network namespace and one private mount namespace made here,
# and every process, pod and container inside one cgroup subtree made here. Nothing it does is seen
# outside: iptables rules, bridges, pod network namespaces and mounts die with the namespaces, and
# the host only gains one veth (a /30 from 10.213.0.0/16) that the kernel removes with them.
#
#   test/node/node.sh start [dir]      start; print the folder (kubeconfig, node.env, node.json)
#   test/node/node.sh stop <dir>       stop everything started in <dir> (by PID and by cgroup) and
#                                      delete <dir> (NODE_KEEP_DIR=1 keeps it, for its logs)
#   test/node/node.sh run -- cmd...    start, run cmd with KUBECONFIG set, stop (also on failure)
#   test/node/node.sh exec <dir> cmd   run cmd inside the node's namespaces (ip, iptables, curl...)
#
# Knobs: NODE_IMAGES (an OCI archive imported into containerd before the kubelet starts; it must
# hold the sandbox image NODE_PAUSE_IMAGE), NODE_PAUSE_IMAGE, NODE_TIMEOUT (seconds per wait,
# default 120), E2E_OWNER_PID (a process whose end stops the node too), E2E_TOOLS_BIN (the
# toolchain's bin folder; default: the one toolchain.sh prints).
#
# Host needs (Debian): runc, containernetworking-plugins, iptables, conntrack, iproute2, openssl.
set -euo pipefail

log() { printf '[node] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER_SH="$HERE/../e2e/cluster.sh"
TIMEOUT="${NODE_TIMEOUT:-120}"
# shellcheck disable=SC2034 # read by processes.sh's wait_for: a wait fails when one of them exits
WATCHED=(containerd coredns kube-scheduler kube-proxy kubelet)
# shellcheck source=../e2e/processes.sh
. "$HERE/../e2e/processes.sh"
NODE_NAME="agent-fleet-node"
POD_CIDR="10.244.0.0/24"
SERVICE_CIDR="10.96.0.0/16" # cluster.sh's
CNI_BIN_DIR="/usr/lib/cni"   # Debian's containernetworking-plugins
PAUSE_IMAGE="${NODE_PAUSE_IMAGE:-registry.k8s.io/pause:3.10-agent-fleet}"

tools_bin() {
  if [ -n "${E2E_TOOLS_BIN:-}" ]; then echo "$E2E_TOOLS_BIN"; else bash "$HERE/../e2e/toolchain.sh" 2>/dev/null | tail -1; fi
}

# ---- namespaces ------------------------------------------------------------------------------------
# in_node <dir> cmd...: run cmd in the node's network and mount namespaces.
in_node() {
  local dir="$1"
  shift
  nsenter --target "$(cat "$dir/holder.pid")" --net --mount -- "$@"
}

# A /30 on 10.213.0.0/16 that no host interface has: .1 is the host's end, .2 the node's.
free_subnet() {
  local used third fourth
  used="$(ip -o -4 addr show)"
  for _ in $(seq 1 100); do
    third=$((RANDOM % 256)) fourth=$((RANDOM % 64 * 4))
    case "$used" in *"10.213.$third.$((fourth + 1))/"*) continue ;; esac
    echo "10.213.$third.$fourth"
    return 0
  done
  die "no free /30 in 10.213.0.0/16"
}

# ---- cgroups (v1 or v2) ----------------------------------------------------------------------------
# The node's cgroup root: below this process' own memory cgroup, so that the node's memory counts
# where this shell's does. Every hierarchy gets the same path (the kubelet's cgroupfs driver wants
# one path for all).
cgroup_root_of_self() {
  local line path=""
  while IFS= read -r line; do
    case "$line" in *:memory:*) path="${line##*:memory:}" ;; 0::*) [ -n "$path" ] || path="${line#0::}" ;; esac
  done </proc/self/cgroup
  [ "$path" = / ] && path=""
  echo "$path"
}

# The mounted hierarchies, one folder each (v1: cpu, memory, ..., name=systemd; v2: the one).
cgroup_hierarchies() {
  awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts
}

# make_cgroups <path> <log>: creates <path> in every hierarchy; each folder it made goes in <log>.
make_cgroups() {
  local root="$1" created="$2" h part path
  for h in $(cgroup_hierarchies); do
    path="$h"
    for part in ${root//\// }; do
      path="$path/$part"
      [ -d "$path" ] || { mkdir "$path" && echo "$path" >>"$created"; }
      # cgroup v1 cpuset: a new group has no CPUs or memory nodes until given its parent's.
      if [ -f "$path/cpuset.cpus" ] && [ -z "$(cat "$path/cpuset.cpus")" ]; then
        cat "$(dirname "$path")/cpuset.cpus" >"$path/cpuset.cpus"
        cat "$(dirname "$path")/cpuset.mems" >"$path/cpuset.mems"
      fi
    done
  done
}

# Every PID in a cgroup subtree, in any hierarchy.
cgroup_pids() {
  local root="$1" h
  for h in $(cgroup_hierarchies); do
    [ -d "$h$root" ] && find "$h$root" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

# Kills everything left in the node's cgroups, then removes them (deepest first), and the parent
# folders make_cgroups created on the way (listed in <log>).
sweep_cgroups() {
  local root="$1" created="$2" h pids
  for _ in $(seq 1 20); do
    pids="$(cgroup_pids "$root")"
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.3
  done
  [ -z "$(cgroup_pids "$root")" ] || log "warning: processes left in cgroup $root: $(cgroup_pids "$root" | tr '\n' ' ')"
  for h in $(cgroup_hierarchies); do
    [ -d "$h$root" ] || continue
    for _ in 1 2 3 4 5; do
      find "$h$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$h$root" ] || break
      sleep 0.5
    done
    [ ! -d "$h$root" ] || log "warning: could not remove $h$root"
  done
  [ -f "$created" ] && tac "$created" | while IFS= read -r path; do rmdir "$path" 2>/dev/null || true; done
}

# ---- processes -------------------------------------------------------------------------------------
# launch <dir> <name> cmd...: runs cmd in the node's namespaces and its "system" cgroup, in a session
# of its own, output to <dir>/logs/<name>.log, PID in <dir>/<name>.pid.
launch() {
  local dir="$1" name="$2" h procs=""
  shift 2
  for h in $(cgroup_hierarchies); do procs+="$h$(cat "$dir/cgroup-root")/system/cgroup.procs "; done
  # shellcheck disable=SC2016
  CGROUP_PROCS="$procs" setsid nsenter --target "$(cat "$dir/holder.pid")" --net --mount -- \
    bash -c 'for f in $CGROUP_PROCS; do echo $$ >"$f"; done; exec "$@"' "$name" "$@" \
    >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

# ---- configuration files ---------------------------------------------------------------------------
write_containerd_config() {
  local dir="$1" c
  c="$dir/containerd"
  mkdir -p "$c/root" "$c/state" "$dir/cni/net.d" "$dir/cni/ipam"
  cat >"$c/config.toml" <<EOF
# containerd 2 for the node suite: everything under $dir, CRI on a unix socket there.
version = 3
root = "$c/root"
state = "$c/state"

[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$c/opt"
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "$PAUSE_IMAGE"
  [plugins.'io.containerd.cri.v1.runtime']
    # Without CAP_SYS_RESOURCE (this VM), runc cannot lower oom_score_adj below containerd's own:
    # restricting the pods' value to >= ours is what containerd offers for rootless/limited hosts.
    restrict_oom_score_adj = true
    # Pod network namespaces are bind-mounted under containerd's state folder, not /run/netns.
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$c/runc"
        SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["$CNI_BIN_DIR"]
      conf_dir = "$dir/cni/net.d"
EOF
  # One bridge for the pods (the node is their gateway); portmap for hostPort (unused by the fleet).
  cat >"$dir/cni/net.d/10-agent-fleet.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "agent-fleet-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

write_node_configs() {
  local dir="$1" ip="$2" cp
  cp="$dir/control-plane"
  cat >"$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This VM mounts cgroup v1, which kubelet 1.35+ refuses unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $(cat "$dir/cgroup-root")/pods
cgroupsPerQOS: true
containerRuntimeEndpoint: unix://$dir/containerd/containerd.sock
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: $cp/pki/ca.crt }
authorization:
  mode: AlwaysAllow
clusterDomain: cluster.local
clusterDNS: [$ip]
# No host resolv.conf: pods resolve cluster names only (this machine has no network anyway).
resolvConf: ""
podLogsDir: $dir/pod-logs
failSwapOn: false
# Disk and memory on a shared CI machine are not the node's to police.
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%" }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
EOF
  cat >"$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $cp/kube-proxy.kubeconfig }
hostnameOverride: $NODE_NAME
bindAddress: $ip
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
mode: iptables
clusterCIDR: $POD_CIDR
nodePortAddresses: [primary]
iptables:
  # Pods share one bridge and the kernel's br_netfilter is not ours to load: masquerading every
  # Service connection sends replies back through the node, where the DNAT is undone.
  masqueradeAll: true
# The conntrack table is the host's (not per namespace): leave its size and timeouts alone.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF
  cat >"$dir/Corefile" <<EOF
.:53 {
    ready 127.0.0.1:8181
    errors
    cache 5
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $cp/kubeconfig
    }
}
EOF
}

# The kernel settings the kubelet insists on (vm.overcommit_memory, kernel.panic, ...) are the
# host's, not the namespace's: inside the node's mount namespace each is covered by a file holding
# the value the kubelet wants, so it reads what it wants and writes nothing to the host.
shield_kernel_tunables() {
  local dir="$1" kv key value
  mkdir -p "$dir/sysctl"
  for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
    kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
    key="${kv%%=*}" value="${kv#*=}"
    echo "$value" >"$dir/sysctl/${key//\//.}"
    in_node "$dir" mount --bind "$dir/sysctl/${key//\//.}" "/proc/sys/$key"
  done
}

# Whether the holder process has entered its own network namespace yet.
holder_unshared() {
  [ "$(readlink "/proc/$(cat "$1/holder.pid")/ns/net")" != "$(readlink /proc/self/ns/net)" ]
}

node_ready() {
  "$KUBECTL" --kubeconfig "$1/control-plane/kubeconfig" get node "$NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}

# ---- commands --------------------------------------------------------------------------------------
cmd_start() {
  local dir="${1:-}" start=$SECONDS bin subnet host_ip ip veth t
  bin="$(tools_bin)"
  export E2E_TOOLS_BIN="$bin"
  KUBECTL="$bin/kubectl"
  for t in kubelet kube-scheduler kube-proxy containerd containerd-shim-runc-v2 ctr coredns kubectl; do
    [ -x "$bin/$t" ] || die "$t not in $bin: run test/e2e/toolchain.sh"
  done
  for t in runc iptables conntrack ip nsenter unshare openssl; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install runc iptables conntrack iproute2 util-linux openssl)"
  done
  for t in bridge host-local loopback portmap; do
    [ -x "$CNI_BIN_DIR/$t" ] || die "CNI plugin $CNI_BIN_DIR/$t missing (apt-get install containernetworking-plugins)"
  done
  [ "$(id -u)" = 0 ] || die "the node needs root (namespaces, cgroups, mounts)"

  if [ -z "$dir" ]; then dir="$(mktemp -d "${TMPDIR:-/tmp}/agent-fleet-node.XXXXXX")"; else mkdir -p "$dir" && dir="$(cd "$dir" && pwd)"; fi
  mkdir -p "$dir/logs" "$dir/kubelet" "$dir/pod-logs"
  echo "node" >"$dir/.agent-fleet-node" # stop deletes only folders that carry this mark
  # A start that fails half-way stops what it started (NODE_KEEP_DIR=1 keeps the logs).
  # shellcheck disable=SC2064
  trap "log 'start failed: stopping what was started'; cmd_stop '$dir' || true" EXIT
  local id
  id="$(basename "$dir" | tr -dc 'a-zA-Z0-9' | tail -c 8)"

  # Namespaces: a holder process keeps them alive; everything else enters them by its PID.
  setsid unshare --net --mount --propagation private -- sleep infinity </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/holder.pid"
  wait_for "$dir" "the node's namespaces" holder_unshared "$dir"
  subnet="$(free_subnet)"
  host_ip="${subnet%.*}.$((${subnet##*.} + 1))"
  ip="${subnet%.*}.$((${subnet##*.} + 2))"
  veth="afn$id"
  echo "$veth" >"$dir/veth"
  ip link add "$veth" type veth peer name eth0 netns "$(cat "$dir/holder.pid")"
  ip addr add "$host_ip/30" dev "$veth"
  ip link set "$veth" up
  in_node "$dir" ip link set lo up
  in_node "$dir" ip addr add "$ip/30" dev eth0
  in_node "$dir" ip link set eth0 up
  # Connections the node itself opens to a Service address need a route before kube-proxy's DNAT.
  in_node "$dir" ip route add "$SERVICE_CIDR" dev eth0
  in_node "$dir" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
  # The kubelet's volumes must propagate into the containers: its folder is a shared mount (here).
  in_node "$dir" mount --bind "$dir/kubelet" "$dir/kubelet"
  in_node "$dir" mount --make-rshared "$dir/kubelet"
  shield_kernel_tunables "$dir"
  echo "$(cgroup_root_of_self)/agent-fleet-node-$id" >"$dir/cgroup-root"
  make_cgroups "$(cat "$dir/cgroup-root")/system" "$dir/cgroups-created"
  make_cgroups "$(cat "$dir/cgroup-root")/pods" "$dir/cgroups-created"
  log "namespaces ready: node $ip (host end $host_ip on $veth), cgroup $(cat "$dir/cgroup-root")"

  if [ -n "${E2E_OWNER_PID:-}" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 2; done; [ -d "$2" ] && exec "$3" stop "$2"' \
      watchdog "$E2E_OWNER_PID" "$dir" "$HERE/node.sh" >"$dir/logs/watchdog.log" 2>&1 </dev/null &
  fi

  t=$SECONDS
  E2E_CLUSTER_ADDRESS="$ip" E2E_CLUSTER_NETNS_PID="$(cat "$dir/holder.pid")" E2E_OWNER_PID="" \
    E2E_CLUSTER_TIMEOUT="$TIMEOUT" bash "$CLUSTER_SH" start "$dir/control-plane" >/dev/null
  log "control plane ready in $((SECONDS - t))s"
  local cp="$dir/control-plane"
  bash "$CLUSTER_SH" client "$cp" kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" >/dev/null
  bash "$CLUSTER_SH" client "$cp" kube-proxy "/CN=system:kube-proxy" >/dev/null
  bash "$CLUSTER_SH" client "$cp" kube-scheduler "/CN=system:kube-scheduler" >/dev/null

  t=$SECONDS
  write_containerd_config "$dir"
  write_node_configs "$dir" "$ip"
  PATH="$bin:$PATH" launch "$dir" containerd "$bin/containerd" --config "$dir/containerd/config.toml"
  wait_for "$dir" "containerd" in_node "$dir" "$bin/ctr" --address "$dir/containerd/containerd.sock" version
  log "containerd ready in $((SECONDS - t))s"
  if [ -n "${NODE_IMAGES:-}" ]; then
    t=$SECONDS
    in_node "$dir" "$bin/ctr" --address "$dir/containerd/containerd.sock" -n k8s.io images import \
      --no-unpack=false "$NODE_IMAGES" >"$dir/logs/images-import.log" 2>&1 ||
      { tail -20 "$dir/logs/images-import.log" >&2; die "importing $NODE_IMAGES failed"; }
    # The kubelet finds an image a pod names as <name>:<tag>@<digest> only under <name>@<digest>
    # (what a pull records); the archive names each image both ways (test/node/images.ts).
    log "images imported in $((SECONDS - t))s: $(in_node "$dir" "$bin/ctr" --address "$dir/containerd/containerd.sock" \
      -n k8s.io images ls -q 2>/dev/null | grep -c @) by digest (log: $dir/logs/images-import.log)"
  fi

  t=$SECONDS
  launch "$dir" coredns "$bin/coredns" -conf "$dir/Corefile"
  launch "$dir" kube-scheduler "$bin/kube-scheduler" --kubeconfig "$cp/kube-scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 --v=1
  launch "$dir" kube-proxy "$bin/kube-proxy" --config "$dir/kube-proxy.yaml" --v=1
  PATH="$bin:$PATH" launch "$dir" kubelet "$bin/kubelet" --config "$dir/kubelet.yaml" \
    --kubeconfig "$cp/kubelet.kubeconfig" --hostname-override "$NODE_NAME" --node-ip "$ip" \
    --root-dir "$dir/kubelet" --cert-dir "$dir/kubelet/pki" --v=1
  wait_for "$dir" "CoreDNS" in_node "$dir" curl -fsS --max-time 2 http://127.0.0.1:8181/ready
  wait_for "$dir" "node $NODE_NAME Ready" node_ready "$dir"
  log "node Ready in $((SECONDS - t))s"

  cat >"$dir/node.env" <<EOF
export KUBECONFIG="$cp/kubeconfig"
export NODE_DIR="$dir"
export NODE_IP="$ip"
EOF
  # shellcheck disable=SC1091
  . "$cp/cluster.env"
  cat >"$dir/node.json" <<EOF
{"dir": "$dir", "kubeconfig": "$cp/kubeconfig", "server": "$KUBE_API_SERVER", "nodeName": "$NODE_NAME", "nodeIP": "$ip", "hostIP": "$host_ip", "holderPid": $(cat "$dir/holder.pid"), "cgroupRoot": "$(cat "$dir/cgroup-root")", "containerdAddress": "$dir/containerd/containerd.sock", "startSeconds": $((SECONDS - start))}
EOF
  trap - EXIT
  log "ready in $((SECONDS - start))s: KUBECONFIG=$cp/kubeconfig"
  echo "$dir"
}

cmd_stop() {
  local dir="${1:-}" name veth
  [ -n "$dir" ] && [ -f "$dir/.agent-fleet-node" ] || die "usage: node.sh stop <dir> (a folder node.sh start made)"
  # Nothing of the node outlives it, so nothing needs a graceful stop: kill the node's processes,
  # then the containers, shims and anything else in its cgroups.
  for name in kubelet kube-proxy kube-scheduler coredns containerd; do
    [ -f "$dir/$name.pid" ] && kill -KILL "$(cat "$dir/$name.pid")" 2>/dev/null || true
    rm -f "$dir/$name.pid"
  done
  [ -f "$dir/cgroup-root" ] && sweep_cgroups "$(cat "$dir/cgroup-root")" "$dir/cgroups-created"
  for name in kube-controller-manager kube-apiserver etcd; do
    [ -f "$dir/control-plane/$name.pid" ] && kill -KILL "$(cat "$dir/control-plane/$name.pid")" 2>/dev/null || true
  done
  [ -d "$dir/control-plane" ] && E2E_KEEP_CLUSTER_DIR=1 bash "$CLUSTER_SH" stop "$dir/control-plane" 2>/dev/null || true
  stop_pid "$dir" holder
  # The veth goes with the namespace; remove it by name if anything kept the namespace alive.
  veth="$(cat "$dir/veth" 2>/dev/null || true)"
  if [ -n "$veth" ]; then
    for _ in $(seq 1 20); do ip link show "$veth" >/dev/null 2>&1 || break; sleep 0.25; done
    ip link del "$veth" 2>/dev/null || true
  fi
  if [ "${NODE_KEEP_DIR:-0}" = 1 ]; then
    log "stopped; kept $dir"
  else
    rm -rf "$dir"
    log "stopped and removed $dir"
  fi
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  run) shift; run_started "node.sh run -- command [args...]" node.env "$@" ;;
  exec) shift; d="${1:-}"; shift; in_node "$d" "$@" ;;
  *) die "usage: node.sh start [dir] | stop <dir> | run -- command... | exec <dir> command..." ;;
esac
