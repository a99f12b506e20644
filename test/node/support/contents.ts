/**
 * What each node image holds: the entries of its own layers and its config. The fleet's images get
 * the config images/Dockerfile declares (test/node/images.test.ts compares the two); Redis and pause
 * what the pods that run them rely on: the Redis StatefulSet's `redis-server` on PATH, its uid 999
 * and /data, and for pause Kubernetes' own image config (`/pause` as 65535).
 */
import type { ImageName } from "../../../infra/catalog";
import { AGENT_PORT, REDIS_PORT, REDIS_UID, RUNTIME_UID } from "../../../infra/components/fleet/conventions";
import type { Inputs } from "./inputs";
import type { TreeEntry } from "./layer-tree";
import type { ImageRuntimeConfig } from "./oci-layout";

/** pause runs as nobody, like Kubernetes' image (`USER 65535:65535`). */
export const PAUSE_UID = 65535;

/**
 * PATH in every image. The Dockerfile sets none: its images inherit alpine's config, whose PATH is
 * this, which is also the default BuildKit gives an image without one.
 */
export const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const NSSWITCH =
  "# Users and groups from /etc; /etc/hosts before DNS, as musl (the Dockerfile's libc) resolves.\n" +
  "passwd: files\ngroup: files\nhosts: files dns\n";

function accounts(user: string, uid: number, home: string): TreeEntry[] {
  return [
    {
      path: "etc/passwd",
      text: `root:x:0:0:root:/root:/sbin/nologin\n${user}:x:${uid}:${uid}:${user}:${home}:/sbin/nologin\n`,
    },
    { path: "etc/group", text: `root:x:0:\n${user}:x:${uid}:\n` },
    { path: "etc/nsswitch.conf", text: NSSWITCH },
    { path: "tmp", directory: true, mode: 0o1777 },
  ];
}

export function baseEntries(inputs: Inputs): TreeEntry[] {
  return [
    ...inputs.hostFiles.node.map((f) => ({ path: f.to.slice(1), copyFrom: f.from })),
    { path: "usr/local/bin/agent-fleet", symlink: "/app/agent-runtime/bin/agent-fleet.js" },
    ...accounts("agent", RUNTIME_UID, "/tmp"),
    { path: "app", directory: true },
  ];
}

export function redisEntries(inputs: Inputs): TreeEntry[] {
  return [
    ...inputs.hostFiles.redis.map((f) => ({ path: f.to.slice(1), copyFrom: f.from })),
    { path: "bin/sh", symlink: "busybox" },
    { path: "bin/grep", symlink: "busybox" },
    ...accounts("redis", REDIS_UID, "/data"),
    // The StatefulSet mounts its volume here; the folder is what a run without one writes into.
    { path: "data", directory: true },
  ];
}

/** The config images/Dockerfile gives `--target router`, or `--target agent --build-arg AGENT_TYPE=<image>`. */
export function fleetImageConfig(image: ImageName): ImageRuntimeConfig {
  const env = [`PATH=${IMAGE_PATH}`, "NODE_ENV=production", "HOME=/tmp"];
  if (image !== "router") {
    env.push(`AGENT_TYPE=${image}`, "AGENT_TRACK=stable", `AGENT_CONFIG_DIR=/app/images/agents/${image}`);
  }
  return {
    User: `${RUNTIME_UID}:${RUNTIME_UID}`,
    ExposedPorts: { [`${AGENT_PORT}/tcp`]: {} },
    Env: env,
    Entrypoint: ["node", "/app/agent-runtime/bin/agent-fleet.js"],
    Cmd: [image === "router" ? "router" : "worker"],
    WorkingDir: "/app",
  };
}

export function redisImageConfig(): ImageRuntimeConfig {
  return {
    User: `${REDIS_UID}:${REDIS_UID}`,
    ExposedPorts: { [`${REDIS_PORT}/tcp`]: {} },
    Env: [`PATH=${IMAGE_PATH}`],
    Cmd: ["redis-server"],
    WorkingDir: "/data",
  };
}

export function pauseImageConfig(): ImageRuntimeConfig {
  return {
    User: `${PAUSE_UID}:${PAUSE_UID}`,
    Env: [`PATH=${IMAGE_PATH}`],
    Entrypoint: ["/pause"],
    WorkingDir: "/",
  };
}
