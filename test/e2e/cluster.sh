#!/usr/bin/env bash
# A throwaway Kubernetes control plane for the end-to-end suite: etcd, kube-apiserver and
# kube-controller-manager on 127.0.0.1 only (free high ports), TLS from a CA generated here with
# openssl, service-account signing keys, and an admin kubeconfig. No kubelet and no scheduler, so
# pods are stored but never run: workloads must be deployed without waiting for readiness. The node
# suite (test/node/node.sh) starts the same control plane inside its node's network namespace and
# adds the node to it.
#
#   test/e2e/cluster.sh start [dir]    start (dir defaults to a new mktemp folder), wait for /readyz,
#                                      print the folder; it holds kubeconfig, cluster.env, cluster.json
#   test/e2e/cluster.sh stop <dir>     stop the processes started in <dir> and delete it
#                                      (E2E_KEEP_CLUSTER_DIR=1 keeps it, e.g. to read the logs)
#   test/e2e/cluster.sh status <dir>   exit 0 when the API server in <dir> answers /readyz
#   test/e2e/cluster.sh run -- cmd...  start, run cmd with KUBECONFIG set, stop (also on failure)
#   test/e2e/cluster.sh client <dir> <name> <subject>   a client certificate from the cluster CA and a
#                                      kubeconfig <dir>/<name>.kubeconfig for it (the node's parts)
#
# Binaries come from $E2E_TOOLS_BIN (written by toolchain.sh into env.sh), else from PATH.
# Other knobs: E2E_CLUSTER_TIMEOUT (seconds to wait for readiness, default 90), E2E_OWNER_PID (a
# process whose end stops the cluster too: a test runner killed before its teardown leaves nothing),
# E2E_CLUSTER_ADDRESS (the address etcd and the API server listen on, default 127.0.0.1) and
# E2E_CLUSTER_NETNS_PID (run every process in that process' network and mount namespaces).
set -euo pipefail

log() { printf '[e2e-cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck disable=SC2034 # both are read by processes.sh's wait_for
TIMEOUT="${E2E_CLUSTER_TIMEOUT:-90}" WATCHED=(etcd kube-apiserver kube-controller-manager) # a wait fails when one exits
# shellcheck source=processes.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/processes.sh"
SERVICE_CIDR="10.96.0.0/16"
SERVICE_IP="10.96.0.1" # first address of SERVICE_CIDR: the in-cluster "kubernetes" Service
ADDRESS="${E2E_CLUSTER_ADDRESS:-127.0.0.1}"
IN_NS=()
[ -z "${E2E_CLUSTER_NETNS_PID:-}" ] || IN_NS=(nsenter --target "$E2E_CLUSTER_NETNS_PID" --net --mount --)

tool() {
  if [ -n "${E2E_TOOLS_BIN:-}" ] && [ -x "$E2E_TOOLS_BIN/$1" ]; then
    echo "$E2E_TOOLS_BIN/$1"
  elif command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
  else
    die "$1 not found: run test/e2e/toolchain.sh and source its env.sh (or set E2E_TOOLS_BIN)"
  fi
}

# A free TCP port on $ADDRESS (nothing accepts a connection there; best effort).
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    case " ${USED_PORTS:-} " in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/$ADDRESS/$port") 2>/dev/null; then
      USED_PORTS="${USED_PORTS:-} $port"
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

# ---- certificates ----------------------------------------------------------------------------------
# sign <name> <subject> <extensions>: key + certificate signed by the cluster CA.
sign() {
  local pki="$1" name="$2" subj="$3" ext="$4"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 7 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

make_pki() {
  local pki="$1"
  mkdir -p "$pki"
  chmod 700 "$pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=agent-fleet-e2e-ca" -days 7 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$pki/ca.crt" 2>/dev/null
  local client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
  sign "$pki" apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$ADDRESS,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign "$pki" admin "/O=system:masters/CN=agent-fleet-e2e-admin" "$client"
  sign "$pki" controller-manager "/CN=system:kube-controller-manager" "$client"
  # The API server's own client certificate towards kubelets (logs, exec, port-forward).
  sign "$pki" apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  # Service-account tokens: signed by the API server (TokenRequest), verified with the public key.
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# kubeconfig <file> <server> <pki> <client-name> <user>
kubeconfig() {
  local b64="base64 -w0"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: agent-fleet-e2e
    cluster:
      server: $2
      certificate-authority-data: $($b64 <"$3/ca.crt")
users:
  - name: $5
    user:
      client-certificate-data: $($b64 <"$3/$4.crt")
      client-key-data: $($b64 <"$3/$4.key")
contexts:
  - name: agent-fleet-e2e
    context:
      cluster: agent-fleet-e2e
      user: $5
current-context: agent-fleet-e2e
EOF
  chmod 600 "$1"
}

# ---- processes -------------------------------------------------------------------------------------
# launch <dir> <name> cmd...: runs in its own session, output to <dir>/logs/<name>.log, pid file.
launch() {
  local dir="$1" name="$2"
  shift 2
  setsid "${IN_NS[@]}" "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

curl_api() {
  local dir="$1" path="$2"
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
  curl -sS --max-time 5 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" \
    "$KUBE_API_SERVER$path"
}

readyz() { [ "$(curl_api "$1" /readyz)" = ok ]; }
default_sa() { curl_api "$1" /api/v1/namespaces/default/serviceaccounts/default | grep -q '"kind": *"ServiceAccount"'; }

cmd_start() {
  local dir="${1:-}" etcd apiserver kcm etcd_port peer_port api_port start=$SECONDS
  etcd="$(tool etcd)"
  apiserver="$(tool kube-apiserver)"
  kcm="$(tool kube-controller-manager)"
  command -v openssl >/dev/null || die "openssl is required"
  if [ -z "$dir" ]; then
    dir="$(mktemp -d "${TMPDIR:-/tmp}/agent-fleet-e2e-cluster.XXXXXX")"
  else
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
  fi
  mkdir -p "$dir/logs"
  make_pki "$dir/pki"
  etcd_port="$(free_port)"
  peer_port="$(free_port)"
  api_port="$(free_port)"
  local server="https://$ADDRESS:$api_port"
  kubeconfig "$dir/kubeconfig" "$server" "$dir/pki" admin agent-fleet-e2e-admin
  kubeconfig "$dir/controller-manager.kubeconfig" "$server" "$dir/pki" controller-manager system:kube-controller-manager
  cat >"$dir/cluster.env" <<EOF
export KUBECONFIG="$dir/kubeconfig"
export KUBE_API_SERVER="$server"
export E2E_CLUSTER_DIR="$dir"
EOF
  cat >"$dir/cluster.json" <<EOF
{"dir": "$dir", "kubeconfig": "$dir/kubeconfig", "server": "$server", "etcd": "http://$ADDRESS:$etcd_port", "ca": "$dir/pki/ca.crt", "clientCert": "$dir/pki/admin.crt", "clientKey": "$dir/pki/admin.key"}
EOF

  log "starting etcd on $ADDRESS:$etcd_port"
  launch "$dir" etcd "$etcd" --name e2e --data-dir "$dir/etcd" \
    --listen-client-urls "http://$ADDRESS:$etcd_port" --advertise-client-urls "http://$ADDRESS:$etcd_port" \
    --listen-peer-urls "http://$ADDRESS:$peer_port" --initial-advertise-peer-urls "http://$ADDRESS:$peer_port" \
    --initial-cluster "e2e=http://$ADDRESS:$peer_port" --initial-cluster-state new \
    --unsafe-no-fsync --log-level warn
  wait_for "$dir" "etcd" curl -fsS --max-time 2 "http://$ADDRESS:$etcd_port/health"

  log "starting kube-apiserver on $server"
  launch "$dir" kube-apiserver "$apiserver" \
    --bind-address="$ADDRESS" --advertise-address="$ADDRESS" --secure-port="$api_port" \
    --etcd-servers="http://$ADDRESS:$etcd_port" \
    --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/pki/sa.pub" --service-account-signing-key-file="$dir/pki/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --authorization-mode=Node,RBAC --allow-privileged=true \
    --kubelet-client-certificate="$dir/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$dir/pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --endpoint-reconciler-type=none --profiling=false --v=1
  wait_for "$dir" "kube-apiserver /readyz" readyz "$dir"

  log "starting kube-controller-manager"
  launch "$dir" kube-controller-manager "$kcm" \
    --kubeconfig="$dir/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
    --service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" \
    --cluster-signing-cert-file="$dir/pki/ca.crt" --cluster-signing-key-file="$dir/pki/ca.key" \
    --use-service-account-credentials=true --profiling=false --v=1
  # The service-account controller creating "default" in namespace default shows the controllers run.
  wait_for "$dir" "kube-controller-manager (default service account)" default_sa "$dir"

  if [ -n "${E2E_OWNER_PID:-}" ]; then
    # A watchdog in its own session: when the owner is gone, stop whatever is still running here.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 2; done; [ -d "$2" ] && exec "$3" stop "$2"' \
      watchdog "$E2E_OWNER_PID" "$dir" "$(readlink -f "$0")" >"$dir/logs/watchdog.log" 2>&1 </dev/null &
  fi
  log "ready in $((SECONDS - start))s: KUBECONFIG=$dir/kubeconfig"
  echo "$dir"
}

cmd_stop() {
  local dir="${1:-}" name
  [ -n "$dir" ] && [ -d "$dir" ] || die "usage: cluster.sh stop <dir>"
  for name in kube-controller-manager kube-apiserver etcd; do stop_pid "$dir" "$name"; done
  if [ "${E2E_KEEP_CLUSTER_DIR:-0}" = 1 ]; then
    log "stopped; kept $dir"
  else
    [ -f "$dir/cluster.env" ] || die "$dir does not look like a cluster folder; not deleting it"
    rm -rf "$dir"
    log "stopped and removed $dir"
  fi
}

# client <dir> <name> <subject>: a client certificate signed by the cluster CA, and a kubeconfig.
cmd_client() {
  local dir="${1:-}" name="${2:-}" subj="${3:-}"
  [ -f "$dir/cluster.env" ] && [ -n "$name" ] && [ -n "$subj" ] || die "usage: cluster.sh client <dir> <name> <subject>"
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
  sign "$dir/pki" "$name" "$subj" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
  kubeconfig "$dir/$name.kubeconfig" "$KUBE_API_SERVER" "$dir/pki" "$name" "$name"
  echo "$dir/$name.kubeconfig"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  client) shift; cmd_client "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; [ -f "${1:-}/cluster.env" ] && readyz "$1" ;;
  run) shift; run_started "cluster.sh run -- command [args...]" cluster.env "$@" ;;
  *) die "usage: cluster.sh start [dir] | stop <dir> | status <dir> | client <dir> <name> <subject> | run -- command..." ;;
esac
