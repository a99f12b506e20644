#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows) with actionlint, which also runs shellcheck
# over every `run:` script when shellcheck is on PATH.
#
#   bash .ci/actionlint.sh                 lint .github/workflows/*.yml
#   bash .ci/actionlint.sh FILE...         lint these workflow files instead
#
# actionlint is built from its Go module through the Go module proxy (no release download) into
# ${AGENT_FLEET_CACHE:-$HOME/.cache/agent-fleet}/tools/actionlint-<version>/ and reused while the
# version stays; the module and build caches are Go's defaults, shared with test/e2e/toolchain.sh.
# Cold build on 2 cores: see docs/ci.md; warm: instant.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION="1.7.12"
log() { printf '[actionlint] %s\n' "$*" >&2; }

tool_dir="${AGENT_FLEET_CACHE:-$HOME/.cache/agent-fleet}/tools/actionlint-$ACTIONLINT_VERSION"
actionlint="$tool_dir/actionlint"
if [ ! -x "$actionlint" ]; then
  go="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$go" ] || { log "error: no go toolchain on PATH or at /usr/local/go/bin/go"; exit 1; }
  log "building github.com/rhysd/actionlint v$ACTIONLINT_VERSION into $tool_dir ..."
  start=$SECONDS
  mkdir -p "$tool_dir"
  # `go install pkg@version` ignores any go.mod around it; -mod=mod is what it would do anyway.
  # The version is stamped by `go install` itself (actionlint -version reads the module version).
  GOBIN="$tool_dir" GOFLAGS="-mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local \
    "$go" install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
  log "built in $((SECONDS - start))s"
fi

if ! command -v shellcheck >/dev/null 2>&1; then
  log "shellcheck is not on PATH: installing the Debian package"
  if ! { apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null; }; then
    log "could not install shellcheck: run: scripts are not checked this time"
  fi
fi

if [ "$#" -eq 0 ]; then set -- .github/workflows/*.yml; fi
log "$("$actionlint" -version | head -1); shellcheck $(shellcheck --version 2>/dev/null | sed -n 's/^version: //p' || echo missing)"
"$actionlint" -no-color "$@"
log "ok: $*"
