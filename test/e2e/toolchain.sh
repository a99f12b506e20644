#!/usr/bin/env bash
# Builds, from Go modules through the Go module proxy, everything the end-to-end suite runs that is
# not an npm package: the Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kubectl) and the Pulumi engine (the CLI, the Kubernetes resource provider, and the suite's random
# stand-in provider). Each tool is built into a per-version cache folder outside the repository and
# reused (a warm run takes well under a second).
#
#   test/e2e/toolchain.sh                  build whatever is missing, then print the bin folder
#   test/e2e/toolchain.sh etcd pulumi      only these tools (names: see ALL_TOOLS)
#
# Output (cache root = ${AGENT_FLEET_CACHE:-$HOME/.cache/agent-fleet}/e2e-tools):
#   <cache root>/<tool>-<version>/bin/*   one folder per tool and version (".ok" marks a finished build)
#   <cache root>/bin/                     the commands gathered in one folder (hard links): etcd,
#                                         kube-apiserver, kube-controller-manager, kubectl, pulumi
#   <cache root>/pulumi-plugins/          the provider plugins, installed by `pulumi plugin install
#                                         --file` under the exact versions the npm SDKs ask for; a
#                                         PULUMI_HOME whose plugins/ links here uses them (never PATH)
#   <cache root>/share/istio-crds.yaml    Istio's CRDs, from the same source as istioctl
#   <cache root>/share/cert-manager-crds.yaml   cert-manager's (cert-manager.io group)
#   <cache root>/share/prometheus-operator-crds.yaml   PrometheusRule, PodMonitor, ServiceMonitor
#   <cache root>/env.sh                   `source` it: E2E_TOOLS_BIN, E2E_PULUMI_PLUGINS and PATH
#
# Environment knobs: AGENT_FLEET_CACHE, E2E_GO (go binary), E2E_REBUILD=1 (ignore the cache), and the
# usual GOPROXY / GOMODCACHE / GOCACHE (one module and build cache serves every tool).
# Cold build on 2 cores: about an hour (Go module downloads included; test/e2e/README.md); warm: < 1 s.
set -euo pipefail

# ---- pinned versions ------------------------------------------------------------------------------
KUBERNETES_VERSION="1.36.3"              # k8s.io/kubernetes (control plane, kubectl, and the node: kubelet, kube-scheduler, kube-proxy)
KUBERNETES_STAGING_VERSION="0.36.3"      # k8s.io/{api,apimachinery,apiserver,...} matching the above
ETCD_VERSION="3.6.8"                     # go.etcd.io/etcd/server/v3 (the version k8s 1.36.3 pins)
PULUMI_VERSION="3.274.1"                 # github.com/pulumi/pulumi/pkg/v3 (cmd/pulumi), the CLI
# The Kubernetes provider: the newest release the proxy serves is v4.25.0, as the pseudo-version of
# its release commit; package.json pins @pulumi/kubernetes to the same release (test/e2e/README.md).
PULUMI_KUBERNETES_VERSION="4.25.0"
PULUMI_KUBERNETES_MODULE="github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199"
# Istio's injector (istioctl): istio.io/istio is on the proxy only as pseudo-versions. This one is
# master on 2026-08-27 (VERSION 1.31, istio.io/api at v1.31.0-rc.0+): the 1.31 release in the making,
# whose every dependency the proxy serves (the newest release-1.30 commit needs refused ones). The
# stacks install the 1.31.0 charts (ISTIO_VERSION in infra/components/fleet/mesh.ts).
ISTIO_VERSION="1.31.0-pre.eed52ebb66ad"
ISTIO_MODULE="istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"
# cert-manager's CRDs (plain YAML in its module; nothing is built): the staging and prod ingress
# asks it for a Certificate, which the e2e control plane must know to dry-run.
CERT_MANAGER_MODULE="github.com/cert-manager/cert-manager@v1.21.2"
# The Prometheus Operator's CRDs for the kinds the stacks create (PrometheusRule, PodMonitor; plain
# YAML in its module, nothing is built), at the operator version kube-prometheus-stack 88.6.2 runs.
PROMETHEUS_OPERATOR_MODULE="github.com/prometheus-operator/prometheus-operator@v0.93.1"
# The random stand-in (test/e2e/random-standin) reports the @pulumi/random version it stands in for;
# its cache key adds a hash of its sources so that an edit rebuilds it.
# The observability suite's real parts (test/obs): Prometheus and promtool from one build of the
# prometheus module (v0.316.0 is Prometheus 3.16.0), with the service-discovery plugins left out
# (remove_all_sd: the suite scrapes static targets; file and http discovery stay); and an
# OpenTelemetry Collector with only the components the suite runs (test/obs/otelcol, a main package
# of this repository; keyed by its sources' hash like CoreDNS below).
PROMETHEUS_VERSION="3.16.0"
PROMETHEUS_MODULE="github.com/prometheus/prometheus@v0.316.0"
OTELCOL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../obs" && pwd)/otelcol"
# The node's container runtime (test/node): containerd v2 with its runc shim and ctr, static
# (CGO_ENABLED=0) without the btrfs, devmapper and zfs snapshotters (overlayfs and native stay).
# Debian's containerd 1.6 would do today, but kubelet 1.37 drops 1.x.
CONTAINERD_VERSION="2.4.2"
CONTAINERD_MODULE="github.com/containerd/containerd/v2@v$CONTAINERD_VERSION"
# The node's cluster DNS: CoreDNS with only the plugins the node uses (test/node/coredns, a main
# package of this repository; keyed by its sources' hash like the random stand-in).
COREDNS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../node" && pwd)/coredns"
STANDIN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/random-standin"

# ---- setup -----------------------------------------------------------------------------------------
log() { printf '[e2e-toolchain] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

CACHE_ROOT="${AGENT_FLEET_CACHE:-$HOME/.cache/agent-fleet}/e2e-tools"
BIN_DIR="$CACHE_ROOT/bin"
PLUGIN_HOME="$CACHE_ROOT/pulumi-home"
GO="${E2E_GO:-}"
if [ -z "$GO" ]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi

export GOFLAGS="-mod=mod -buildvcs=false"
# These binaries serve a throwaway test cluster and engine, so they are built without the
# compiler's optimisations and inlining (about a quarter less CPU: etcd took 94 s of user time
# instead of 128 s), at some run-time speed the suites do not need, and without the debug
# information the linker's -w drops anyway (-dwarf=false: the compiler does not make it). Part of
# each tool's cache record: a change rebuilds.
GCFLAGS="${E2E_GCFLAGS-all=-N -l -dwarf=false}"
# The compiler and linker collect garbage less often (the machine has memory to spare; the
# compiler's own heap boost applies only when GOGC is unset). Measured on the collector, cold, idle
# 2-core machine, user+sys: 248 CPU-s as before; 223 with -dwarf=false; 207 with GOGC=400 too
# (wall 133 s -> 110 s); peak RSS 550 -> 497 MB.
export GOGC="${E2E_GOGC:-400}"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOWORK=off

ALL_TOOLS=(etcd kubernetes containerd coredns pulumi pulumi-kubernetes random-standin istioctl prometheus otelcol)
if [ "$#" -gt 0 ]; then TOOLS=("$@"); else TOOLS=("${ALL_TOOLS[@]}"); fi

# The main packages of this repository (random-standin, coredns, otelcol) are versioned by what they
# build (the stand-in's schema version, the CoreDNS or collector release their go.mod requires) and
# a hash of their sources, so that an edit rebuilds them.
sources_hash() { cat "$1"/go.mod "$1"/go.sum "$1"/*.go "$1"/*.json 2>/dev/null | sha256sum | cut -c1-12; }
required_version() { # required_version <dir> <module>: the version <dir>/go.mod requires of <module>
  sed -n -E "s#^(require)?[[:space:]]*$2 v([^ ]+)( .*)?\$#\2#p" "$1/go.mod" | head -1
}
standin_version() {
  echo "$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$STANDIN_DIR/schema.json")-$(sources_hash "$STANDIN_DIR")"
}
coredns_version() { echo "$(required_version "$COREDNS_DIR" github.com/coredns/coredns)-$(sources_hash "$COREDNS_DIR")"; }
otelcol_version() { echo "$(required_version "$OTELCOL_DIR" go.opentelemetry.io/collector/otelcol)-$(sources_hash "$OTELCOL_DIR")"; }

tool_version() {
  case "$1" in
    etcd) echo "$ETCD_VERSION" ;;
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    containerd) echo "$CONTAINERD_VERSION" ;;
    coredns) coredns_version ;;
    pulumi) echo "$PULUMI_VERSION" ;;
    pulumi-kubernetes) echo "$PULUMI_KUBERNETES_VERSION" ;;
    random-standin) standin_version ;;
    istioctl) echo "$ISTIO_VERSION" ;;
    prometheus) echo "$PROMETHEUS_VERSION" ;;
    otelcol) otelcol_version ;;
    *) die "unknown tool '$1' (known: ${ALL_TOOLS[*]})" ;;
  esac
}

# Executables each tool folder must contain once built.
tool_bins() {
  case "$1" in
    etcd) echo "etcd" ;;
    kubernetes) echo "kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler kube-proxy" ;;
    containerd) echo "containerd containerd-shim-runc-v2 ctr" ;;
    coredns) echo "coredns" ;;
    pulumi) echo "pulumi" ;;
    pulumi-kubernetes) echo "pulumi-resource-kubernetes" ;;
    random-standin) echo "pulumi-resource-random" ;;
    istioctl) echo "istioctl" ;;
    prometheus) echo "prometheus promtool" ;;
    otelcol) echo "otelcol" ;;
  esac
}

# Provider plugins are installed for the engine, not gathered on PATH: "kind name version" per tool.
tool_plugin() {
  case "$1" in
    pulumi-kubernetes) echo "resource kubernetes $PULUMI_KUBERNETES_VERSION" ;;
    random-standin) echo "resource random $(standin_version | cut -d- -f1)" ;;
  esac
}

tool_dir() { echo "$CACHE_ROOT/$1-$(tool_version "$1")"; }

is_cached() {
  local dir b
  dir="$(tool_dir "$1")"
  [ -f "$dir/.ok" ] || return 1
  grep -qxF "gcflags=$GCFLAGS" "$dir/.ok" || return 1
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
  (cd "$dir" && "$GO" build -trimpath -gcflags "$GCFLAGS" -ldflags "-s -w $ldflags" -o "$out" "$@") \
    >>"$dir/build.log" 2>&1 || {
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
  # One `go build` for all six commands, so their (mostly shared) packages compile once.
  build_in_wrapper "$src" "$dir/bin/" "$ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
}

build_containerd() {
  local dir="$1" src="$CACHE_ROOT/src/containerd-$CONTAINERD_VERSION" m="github.com/containerd/containerd/v2"
  make_wrapper "$src" "$CONTAINERD_MODULE" "" >/dev/null || return 3
  build_in_wrapper "$src" "$dir/bin/" "-X $m/version.Version=v$CONTAINERD_VERSION -X $m/version.Revision=v$CONTAINERD_VERSION" \
    -tags "no_btrfs no_devmapper no_zfs" "$m/cmd/containerd" "$m/cmd/containerd-shim-runc-v2" "$m/cmd/ctr"
}

build_pulumi() {
  local dir="$1" src="$CACHE_ROOT/src/pulumi-$PULUMI_VERSION"
  # Upstream replaces sdk/v3 with its sibling folder (-> the published sdk/v3 at the same version)
  # and atotto/clipboard with a fork (copied as is).
  make_wrapper "$src" "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "$PULUMI_VERSION" >/dev/null || return 3
  build_in_wrapper "$src" "$dir/bin/pulumi" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_pulumi_kubernetes() {
  local dir="$1" src="$CACHE_ROOT/src/pulumi-kubernetes-$PULUMI_KUBERNETES_VERSION" moddir cmd
  moddir="$(make_wrapper "$src" "$PULUMI_KUBERNETES_MODULE" "$PULUMI_KUBERNETES_VERSION")" || return 3
  # main.go embeds schema-embed.json and terraform-mapping-embed.json, which upstream's `go generate`
  # makes from the module's schema.json (with the release version set) and terraform-mapping.json;
  # the module zip lacks them. Run the same generator here, then build that main package.
  cmd="$src/cmd/pulumi-resource-kubernetes"
  mkdir -p "$cmd"
  cp "$moddir"/cmd/pulumi-resource-kubernetes/{main.go,generate.go,schema.json,terraform-mapping.json} "$cmd/"
  chmod u+w "$cmd"/*
  (cd "$cmd" && VERSION="$PULUMI_KUBERNETES_VERSION" "$GO" run generate.go) >>"$src/build.log" 2>&1 || {
    tail -n 40 "$src/build.log" >&2
    return 1
  }
  rm "$cmd"/{generate.go,schema.json,terraform-mapping.json}
  build_in_wrapper "$src" "$dir/bin/pulumi-resource-kubernetes" \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
    ./cmd/pulumi-resource-kubernetes
}

build_istioctl() {
  local dir="$1" src="$CACHE_ROOT/src/istioctl-$ISTIO_VERSION"
  make_wrapper "$src" "$ISTIO_MODULE" "" >/dev/null || return 3
  build_in_wrapper "$src" "$dir/bin/istioctl" \
    "-X istio.io/istio/pkg/version.buildVersion=$ISTIO_VERSION -X istio.io/istio/pkg/version.buildStatus=Clean" \
    istio.io/istio/istioctl/cmd/istioctl
}

build_prometheus() {
  local dir="$1" src="$CACHE_ROOT/src/prometheus-$PROMETHEUS_VERSION" v="github.com/prometheus/common/version"
  make_wrapper "$src" "$PROMETHEUS_MODULE" "" >/dev/null || return 3
  build_in_wrapper "$src" "$dir/bin/" "-X $v.Version=$PROMETHEUS_VERSION -X $v.Branch=release -X $v.Revision=v0.316.0" \
    -tags remove_all_sd github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
}

# build_local <tool dir> <tool> <source dir> <output> <ldflags>: builds a main package of this
# repository from a copy (the build never writes into the checkout) with its own go.mod and go.sum,
# and removes the builds of earlier sources, which are of no further use.
build_local() {
  local dir="$1" tool="$2" from="$3" out="$4" ldflags="$5" src="$CACHE_ROOT/src/$2"
  find "$CACHE_ROOT" -maxdepth 1 -name "$tool-*" ! -path "$dir" -exec rm -rf {} +
  rm -rf "$src"
  mkdir -p "$src"
  cp "$from"/go.mod "$from"/go.sum "$from"/*.go "$src/"
  cp "$from"/*.json "$src/" 2>/dev/null || true
  GOFLAGS="-mod=readonly -buildvcs=false" build_in_wrapper "$src" "$dir/bin/$out" "$ldflags" .
}

build_coredns() {
  build_local "$1" coredns "$COREDNS_DIR" coredns \
    "-X github.com/coredns/coredns/coremain.GitCommit=v$(coredns_version | cut -d- -f1)"
}

build_random_standin() { build_local "$1" random-standin "$STANDIN_DIR" pulumi-resource-random ""; }

build_otelcol() { build_local "$1" otelcol "$OTELCOL_DIR" otelcol "-X main.version=$(otelcol_version | cut -d- -f1)"; }

# Installs each provider plugin into $PLUGIN_HOME with the CLI's own installer, under the version
# the npm SDK asks for, unless that exact build is already there.
install_plugins() {
  local tool kind name version bin marker
  for tool in "${ALL_TOOLS[@]}"; do
    [ -n "$(tool_plugin "$tool")" ] && is_cached "$tool" || continue
    read -r kind name version <<<"$(tool_plugin "$tool")"
    bin="$(tool_dir "$tool")/bin/$(tool_bins "$tool")"
    marker="$PLUGIN_HOME/plugins/$kind-$name-v$version/.agent-fleet-build"
    if [ -f "$marker" ] && [ "$(cat "$marker")" = "$(tool_dir "$tool")" ]; then continue; fi
    log "installing plugin $kind $name v$version from $bin"
    PULUMI_HOME="$PLUGIN_HOME" PULUMI_SKIP_UPDATE_CHECK=true \
      "$BIN_DIR/pulumi" plugin install "$kind" "$name" "$version" --file "$bin" --reinstall >&2
    tool_dir "$tool" >"$marker"
  done
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
  log "building $tool v$version (cold, each takes minutes; test/e2e/README.md has the times) ..."
  rm -rf "$dir"
  mkdir -p "$dir/bin"
  if ! "build_${tool//-/_}" "$dir"; then
    rm -rf "$dir"
    die "$tool v$version: build failed after $((SECONDS - start))s (log: $CACHE_ROOT/src/$tool-$version/build.log)"
  fi
  printf 'tool=%s\nversion=%s\nbuilt=%s\ngo=%s\ngcflags=%s\n' "$tool" "$version" "$(date -u +%FT%TZ)" \
    "$("$GO" env GOVERSION)" "$GCFLAGS" >"$dir/.ok"
  log "$tool v$version: done in $((SECONDS - start))s -> $dir/bin"
}

mkdir -p "$CACHE_ROOT/src" "$BIN_DIR"
[ -x "$GO" ] || die "no go toolchain (set E2E_GO or put go on PATH)"
# One run at a time per cache (a test runner and a developer may start it together).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/.lock"
  flock 9
fi
total_start=$SECONDS
log "cache: $CACHE_ROOT ($("$GO" env GOVERSION), GOPROXY=$("$GO" env GOPROXY))"
# Two lanes of builds side by side: a go build keeps both cores busy while it compiles, but not
# while it downloads modules or links (one core), and a second build fills those gaps. The lanes
# split each of .ci/run's two phases (test/e2e/README.md): etcd, Kubernetes, istioctl, CoreDNS
# and Prometheus in one; the Pulumi CLI, the provider, the stand-in, containerd and the collector
# in the other. E2E_TOOLCHAIN_LANES=1 builds one tool at a time.
tool_lane() {
  case "$1" in etcd | kubernetes | istioctl | coredns | prometheus) echo 0 ;; *) echo 1 ;; esac
}
if [ "${E2E_TOOLCHAIN_LANES:-2}" = 1 ]; then
  for tool in "${TOOLS[@]}"; do ensure_tool "$tool"; done
else
  lane_pids=()
  for lane in 0 1; do
    (for tool in "${TOOLS[@]}"; do [ "$(tool_lane "$tool")" = "$lane" ] && ensure_tool "$tool"; done; exit 0) &
    lane_pids+=($!)
  done
  lanes_ok=1
  for pid in "${lane_pids[@]}"; do wait "$pid" || lanes_ok=0; done
  [ "$lanes_ok" = 1 ] || die "a build failed (above)"
fi

# Istio's CRDs, from the same source as istioctl (its base chart's files): the e2e control plane
# installs them so that the stacks' Istio objects meet Istio's own schemas.
if is_cached istioctl && [ ! -f "$(tool_dir istioctl)/share/istio-crds.yaml" ]; then
  istio_dir="$(module_dir "$ISTIO_MODULE")" || die "cannot read $ISTIO_MODULE"
  mkdir -p "$(tool_dir istioctl)/share"
  cp "$istio_dir/manifests/charts/base/files/crd-all.gen.yaml" "$(tool_dir istioctl)/share/istio-crds.yaml"
fi
if is_cached istioctl; then
  mkdir -p "$CACHE_ROOT/share"
  cp -f "$(tool_dir istioctl)/share/istio-crds.yaml" "$CACHE_ROOT/share/istio-crds.yaml"
fi
CERT_MANAGER_CRDS="$CACHE_ROOT/share/cert-manager-${CERT_MANAGER_MODULE#*@}-crds.yaml"
if [ ! -f "$CERT_MANAGER_CRDS" ]; then
  cm_dir="$(module_dir "$CERT_MANAGER_MODULE")" || die "cannot read $CERT_MANAGER_MODULE"
  mkdir -p "$CACHE_ROOT/share"
  cat "$cm_dir"/deploy/crds/cert-manager.io_*.yaml >"$CERT_MANAGER_CRDS.partial"
  mv "$CERT_MANAGER_CRDS.partial" "$CERT_MANAGER_CRDS"
fi
ln -sf "$(basename "$CERT_MANAGER_CRDS")" "$CACHE_ROOT/share/cert-manager-crds.yaml"
OPERATOR_CRDS="$CACHE_ROOT/share/prometheus-operator-${PROMETHEUS_OPERATOR_MODULE#*@}-crds.yaml"
if [ ! -f "$OPERATOR_CRDS" ]; then
  po_dir="$(module_dir "$PROMETHEUS_OPERATOR_MODULE")" || die "cannot read $PROMETHEUS_OPERATOR_MODULE"
  mkdir -p "$CACHE_ROOT/share"
  for kind in prometheusrules podmonitors servicemonitors; do
    cat "$po_dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml"
    echo "---"
  done >"$OPERATOR_CRDS.partial"
  mv "$OPERATOR_CRDS.partial" "$OPERATOR_CRDS"
fi
ln -sf "$(basename "$OPERATOR_CRDS")" "$CACHE_ROOT/share/prometheus-operator-crds.yaml"

# Gather the pinned commands in one folder (hard links; copies across file systems).
for tool in "${ALL_TOOLS[@]}"; do
  is_cached "$tool" && [ -z "$(tool_plugin "$tool")" ] || continue
  for b in $(tool_bins "$tool"); do
    src="$(tool_dir "$tool")/bin/$b"
    if ! [ "$src" -ef "$BIN_DIR/$b" ]; then
      ln -f "$src" "$BIN_DIR/$b" 2>/dev/null || cp -f "$src" "$BIN_DIR/$b"
    fi
  done
done

[ -x "$BIN_DIR/pulumi" ] && install_plugins

cat >"$CACHE_ROOT/env.sh" <<EOF
# Written by agent-fleet test/e2e/toolchain.sh: source it to use the tools by hand.
export E2E_TOOLS_BIN="$BIN_DIR"
export E2E_PULUMI_PLUGINS="$PLUGIN_HOME/plugins"
export PATH="$BIN_DIR:\$PATH"
EOF

log "total $((SECONDS - total_start))s"
echo "$BIN_DIR"
