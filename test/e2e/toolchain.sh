#!/usr/bin/env bash
# Builds, from Go modules through the Go module proxy, the Kubernetes control plane the end-to-end
# suite deploys to: etcd, kube-apiserver, kube-controller-manager and kubectl. Each tool is built
# into a per-version cache folder outside the repository and reused (a warm run takes well under a
# second).
#
#   test/e2e/toolchain.sh                  build whatever is missing, then print the bin folder
#   test/e2e/toolchain.sh etcd             only these tools (names: etcd, kubernetes)
#   test/e2e/toolchain.sh probe            ask the module proxy for the Pulumi engine modules the
#                                          suite would also need (see test/e2e/README.md); prints one
#                                          line per module, exit 0 when all are served, 2 otherwise
#
# Output (cache root = ${AGENT_FLEET_CACHE:-$HOME/.cache/agent-fleet}/e2e-tools):
#   <cache root>/<tool>-<version>/bin/*   one folder per tool and version (".ok" marks a finished build)
#   <cache root>/bin/                     the pinned versions gathered in one folder (hard links)
#   <cache root>/env.sh                   `source` it: E2E_TOOLS_BIN and PATH
#
# Environment knobs: AGENT_FLEET_CACHE, E2E_GO (go binary), E2E_REBUILD=1 (ignore the cache), and the
# usual GOPROXY / GOMODCACHE / GOCACHE.
# Cold build on 2 cores: about 6 minutes (Go module downloads included); warm: < 1 s.
set -euo pipefail

# ---- pinned versions ------------------------------------------------------------------------------
KUBERNETES_VERSION="1.36.3"              # k8s.io/kubernetes (kube-apiserver, kube-controller-manager, kubectl)
KUBERNETES_STAGING_VERSION="0.36.3"      # k8s.io/{api,apimachinery,apiserver,...} matching the above
ETCD_VERSION="3.6.8"                     # go.etcd.io/etcd/server/v3 (the version k8s 1.36.3 pins)

# The Pulumi engine pieces the suite cannot build here (see README.md "What the module proxy here
# cannot serve"): the versions package.json needs, and the newest release of each that exists.
# `probe` asks the proxy for each; the day it serves them, the suite can run the real engine.
PULUMI_PROBES=(
  "github.com/pulumi/pulumi/pkg/v3@v3.270.0"                                   # the CLI of @pulumi/pulumi 3.270.0
  "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@latest"   # the Node.js language host (untagged module)
  "github.com/pulumi/pulumi-kubernetes/provider/v4@v4.34.2"                    # the provider of @pulumi/kubernetes 4.34.2
  "github.com/pulumi/pulumi-kubernetes/provider/v4@latest"                     # ... or any version of it
)

# ---- setup -----------------------------------------------------------------------------------------
log() { printf '[e2e-toolchain] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

CACHE_ROOT="${AGENT_FLEET_CACHE:-$HOME/.cache/agent-fleet}/e2e-tools"
BIN_DIR="$CACHE_ROOT/bin"
GO="${E2E_GO:-}"
if [ -z "$GO" ]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi

export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOWORK=off

ALL_TOOLS=(etcd kubernetes)
if [ "$#" -gt 0 ]; then TOOLS=("$@"); else TOOLS=("${ALL_TOOLS[@]}"); fi

tool_version() {
  case "$1" in
    etcd) echo "$ETCD_VERSION" ;;
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    *) die "unknown tool '$1' (known: ${ALL_TOOLS[*]})" ;;
  esac
}

# Executables each tool folder must contain once built.
tool_bins() {
  case "$1" in
    etcd) echo "etcd" ;;
    kubernetes) echo "kube-apiserver kube-controller-manager kubectl" ;;
  esac
}

tool_dir() { echo "$CACHE_ROOT/$1-$(tool_version "$1")"; }

is_cached() {
  local dir b
  dir="$(tool_dir "$1")"
  [ -f "$dir/.ok" ] || return 1
  for b in $(tool_bins "$1"); do [ -x "$dir/bin/$b" ] || return 1; done
}

# `go mod download` one module version; prints its module directory, or fails with the go command's
# error. Runs in a scratch module of its own so that no go.mod above the cache is picked up.
module_dir() {
  local out scratch="$CACHE_ROOT/src/.download"
  [ -f "$scratch/go.mod" ] || { mkdir -p "$scratch" && echo "module agentfleet.invalid/download" >"$scratch/go.mod"; }
  out="$(cd "$scratch" && GOFLAGS=-buildvcs=false "$GO" mod download -json "$1" 2>&1)" || {
    printf '%s\n' "$out" | sed -n 's/.*"Error": "\(.*\)",\{0,1\}$/\1/p; /^go: /p' | sed 's/\\n.*//' | head -3 |
      sed 's#^#[e2e-toolchain]   #' >&2
    return 1
  }
  printf '%s' "$out" | sed -n 's/.*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -1
}

# Prints the replace directives of a go.mod file as "old => new [newversion]" lines.
go_mod_replaces() {
  awk '
    /^replace[ \t]*\($/ { inblock = 1; next }
    inblock && /^\)/    { inblock = 0; next }
    /^replace[ \t]/     { sub(/^replace[ \t]+/, ""); print; next }
    inblock && /=>/     { sub(/^[ \t]+/, ""); print }
  ' "$1" | sed 's#//.*##'
}

# Creates a wrapper module in $1 that requires $2 (path@version) and re-creates the dependency's
# own replace directives, which Go ignores for non-main modules: a replace pointing into the
# dependency's repository (../sdk, ./staging/src/k8s.io/api) becomes a replace with the published
# module at version $3; any other replace (a fork) is copied as is.
make_wrapper() {
  local dir="$1" modver="$2" sibling_version="$3" mod="${2%@*}" ver="${2#*@}" moddir line old new
  moddir="$(module_dir "$modver")" || return 1
  rm -rf "$dir"
  mkdir -p "$dir"
  {
    echo "// Generated by agent-fleet test/e2e/toolchain.sh: builds the commands of $modver."
    echo "module agentfleet.invalid/e2e-toolchain/$(basename "$dir")"
    echo
    echo "go $("$GO" env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')"
    echo
    echo "require $mod $ver"
    echo
    while IFS= read -r line; do
      [ -n "${line// /}" ] || continue
      old="$(echo "$line" | awk '{print $1}')"
      new="$(echo "$line" | sed 's/.*=>[ \t]*//' | awk '{print $1}')"
      case "$new" in
        *FORBIDDEN*) ;;
        ./* | ../*) echo "replace $old => $old v$sibling_version" ;;
        *) echo "replace $line" ;;
      esac
    done < <(go_mod_replaces "$moddir/go.mod")
  } >"$dir/go.mod"
  echo "$moddir"
}

# go build in a wrapper module; -mod=mod adds the missing requirements and go.sum lines (resolved by
# minimal version selection from the pinned module, never "latest"). $2 is the output: a folder if it
# ends with "/", else a file. The go command's output goes to <wrapper>/build.log.
build_in_wrapper() {
  local dir="$1" out="$2" ldflags="$3"
  shift 3
  mkdir -p "$(dirname "$out.")"
  (cd "$dir" && "$GO" build -trimpath -ldflags "-s -w $ldflags" -o "$out" "$@") >>"$dir/build.log" 2>&1 || {
    tail -n 40 "$dir/build.log" >&2
    return 1
  }
}

# ---- one function per tool -------------------------------------------------------------------------
build_etcd() {
  local dir="$1" src="$CACHE_ROOT/src/etcd-$ETCD_VERSION"
  make_wrapper "$src" "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "$ETCD_VERSION" >/dev/null || return 3
  build_in_wrapper "$src" "$dir/bin/etcd" "" go.etcd.io/etcd/server/v3 # main package = module root
}

build_kubernetes() {
  local dir="$1" src="$CACHE_ROOT/src/kubernetes-$KUBERNETES_VERSION" v="k8s.io/component-base/version"
  local major="${KUBERNETES_VERSION%%.*}" minor
  minor="${KUBERNETES_VERSION#*.}"
  minor="${minor%%.*}"
  make_wrapper "$src" "k8s.io/kubernetes@v$KUBERNETES_VERSION" "$KUBERNETES_STAGING_VERSION" >/dev/null || return 3
  local ldflags="-X $v.gitVersion=v$KUBERNETES_VERSION -X $v.gitMajor=$major -X $v.gitMinor=$minor"
  ldflags+=" -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
  # One `go build` for both commands, so their (mostly shared) packages compile once.
  build_in_wrapper "$src" "$dir/bin/" "$ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl
}

# ---- driver ----------------------------------------------------------------------------------------
ensure_tool() {
  local tool="$1" version dir start
  version="$(tool_version "$tool")"
  dir="$(tool_dir "$tool")"
  if [ "${E2E_REBUILD:-0}" != 1 ] && is_cached "$tool"; then
    log "$tool v$version: cached in $dir"
    return 0
  fi
  start=$SECONDS
  log "building $tool v$version (cold on 2 cores: etcd ~1 min, kubernetes ~6 min) ..."
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  if ! "build_${tool//-/_}" "$dir"; then
    rm -rf "$dir"
    die "$tool v$version: build failed after $((SECONDS - start))s (log: $CACHE_ROOT/src/$tool-$version/build.log)"
  fi
  printf 'tool=%s\nversion=%s\nbuilt=%s\ngo=%s\n' "$tool" "$version" "$(date -u +%FT%TZ)" "$("$GO" env GOVERSION)" >"$dir/.ok"
  log "$tool v$version: done in $((SECONDS - start))s -> $dir/bin"
}

# One line per Pulumi engine module: "served <module@version>" or "NOT SERVED <module@version>: why".
probe() {
  local m out missing=0
  for m in "${PULUMI_PROBES[@]}"; do
    if out="$(module_dir "$m" 2>&1)"; then
      echo "served      $m"
    else
      echo "NOT SERVED  $m: $(printf '%s' "$out" | sed 's/^\[e2e-toolchain\] *//' | head -1)"
      missing=1
    fi
  done
  return $((missing * 2))
}

mkdir -p "$CACHE_ROOT/src" "$BIN_DIR"
[ -x "$GO" ] || die "no go toolchain (set E2E_GO or put go on PATH)"
if [ "${TOOLS[0]}" = probe ]; then
  rc=0
  probe || rc=$?
  exit "$rc"
fi
# One run at a time per cache (a test runner and a developer may start it together).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/.lock"
  flock 9
fi
total_start=$SECONDS
log "cache: $CACHE_ROOT ($("$GO" env GOVERSION), GOPROXY=$("$GO" env GOPROXY))"
for tool in "${TOOLS[@]}"; do ensure_tool "$tool"; done

# Gather the pinned binaries in one folder (hard links; copies across file systems).
for tool in "${ALL_TOOLS[@]}"; do
  is_cached "$tool" || continue
  for b in $(tool_bins "$tool"); do
    src="$(tool_dir "$tool")/bin/$b"
    if ! [ "$src" -ef "$BIN_DIR/$b" ]; then
      ln -f "$src" "$BIN_DIR/$b" 2>/dev/null || cp -f "$src" "$BIN_DIR/$b"
    fi
  done
done

cat >"$CACHE_ROOT/env.sh" <<EOF
# Written by agent-fleet test/e2e/toolchain.sh: source it to use the tools by hand.
export E2E_TOOLS_BIN="$BIN_DIR"
export PATH="$BIN_DIR:\$PATH"
EOF

log "total $((SECONDS - total_start))s"
echo "$BIN_DIR"
