#!/usr/bin/env bash
# Deploy smoke test (.github/workflows/deploy.yml): one code-review task through a deployed stack's
# task router, waited for with the agent-fleet CLI. Needs the Pulumi CLI logged in to the stack's
# backend, kubectl, and `npm ci` done.
#
#   bash .ci/smoke.sh <stack>
#
# The stack output routerUrl is the router's in-cluster address (http://task-router.<namespace>.svc.cluster.local),
# so the CLI reaches it through `kubectl port-forward` to that Service, with the stack's kubeconfig
# output (the ambient kubeconfig when that output is empty). The bearer token is ROUTER_TOKEN when
# set, else the first of the stack output routerTokens.
set -euo pipefail
stack="${1:?usage: .ci/smoke.sh <stack>}"
cd "$(dirname "$0")/.."
LOCAL_PORT="${SMOKE_LOCAL_PORT:-18080}"
log() { printf '[smoke %s] %s\n' "$stack" "$*" >&2; }
output() { pulumi stack output "$@" --stack "$stack" --non-interactive; }

url="$(output routerUrl)"
hostport="${url#*://}"
hostport="${hostport%%/*}"
host="${hostport%%:*}"
port=80
[ "$hostport" = "$host" ] || port="${hostport##*:}"
service="${host%%.*}"
namespace="$(echo "$host" | cut -d. -f2)"
log "routerUrl $url -> service $namespace/$service port $port"

work="$(mktemp -d)"
forward_pid=""
cleanup() {
  [ -z "$forward_pid" ] || kill "$forward_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

kubeconfig="$work/kubeconfig"
(umask 077 && output kubeconfig --show-secrets >"$kubeconfig" 2>/dev/null) || true
if [ -s "$kubeconfig" ]; then export KUBECONFIG="$kubeconfig"; else log "no kubeconfig output: the ambient kubeconfig is used"; fi

kubectl -n "$namespace" port-forward "service/$service" "$LOCAL_PORT:$port" >"$work/port-forward.log" 2>&1 &
forward_pid=$!
for _ in $(seq 1 30); do
  curl -fsS -o /dev/null "http://127.0.0.1:$LOCAL_PORT/healthz" 2>/dev/null && break
  kill -0 "$forward_pid" 2>/dev/null || { cat "$work/port-forward.log" >&2; log "port-forward ended"; exit 1; }
  sleep 2
done

if [ -z "${ROUTER_TOKEN:-}" ]; then
  ROUTER_TOKEN="$(output routerTokens --show-secrets 2>/dev/null | cut -d, -f1)" || ROUTER_TOKEN=""
fi
if [ -n "$ROUTER_TOKEN" ]; then
  [ -z "${GITHUB_ACTIONS:-}" ] || echo "::add-mask::$ROUTER_TOKEN"
  export ROUTER_TOKEN
fi

export ROUTER_URL="http://127.0.0.1:$LOCAL_PORT"
log "submitting a code-review task through $ROUTER_URL"
node agent-runtime/bin/agent-fleet.js submit --type code-review --input '{"prompt":"smoke"}' --wait --timeout 300
log "ok"
