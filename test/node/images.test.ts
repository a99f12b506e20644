/**
 * The node images (test/node/images.ts) against what they stand in for: each fleet image's config
 * equals what images/Dockerfile declares for its target and build args, the files sit where the
 * Dockerfile puts them and run (chroot, as the image's user, read-only root), Redis serves and
 * passes its readiness probe exactly as the rendered StatefulSet runs it, pause is static and
 * stops on SIGTERM, and assembling twice gives the same bytes.
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  closeSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AGENT_TYPES, IMAGE_NAMES, type ImageName } from "../../infra/catalog";
import { DOCKERFILE, imageBuildSpec, prebuiltImages } from "../../infra/components/images/agent-images";
import { renderStack } from "../../infra/render/render";
import {
  assembleNodeImages,
  DEFAULT_REPOSITORY,
  DEFAULT_TAG,
  PAUSE_IMAGE_REF,
  REDIS_IMAGE_REF,
  type NodeImage,
  type NodeImages,
} from "./images";
import { builtContainerd, startContainerd } from "./support/containerd";
import { dockerfileConfig, type DockerfileConfig } from "./support/dockerfile-config";
import { defaultCacheRoot } from "./support/inputs";
import { inSandbox, must, readImage, readIndex, unpackImage, type ImageConfig } from "./support/rootfs";

const ROOT = join(__dirname, "..", "..");
const isRoot = process.getuid?.() === 0;

/**
 * The config of the one external image whose config reaches the fleet's images: alpine's
 * (`docker buildx imagetools inspect alpine:3.24 --format '{{json .Image.Config}}'` gives PATH and
 * Cmd ["/bin/sh"]). The Dockerfile sets no PATH, so its images carry alpine's; node:* is a build
 * stage only. Should a Dockerfile edit set PATH, the comparison below follows it.
 */
function externalBase(image: string): DockerfileConfig {
  if (image.startsWith("alpine:")) {
    return {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["/bin/sh"],
      ExposedPorts: [],
    };
  }
  return { Env: [], ExposedPorts: [] };
}

/** An assembled config in the Dockerfile resolver's shape (ExposedPorts as a sorted list). */
function asDockerfileConfig(config: ImageConfig["config"]): DockerfileConfig {
  const { ExposedPorts, Env, ...rest } = config;
  return { ...rest, Env: Env ?? [], ExposedPorts: Object.keys(ExposedPorts ?? {}).sort() };
}

let work: string;
let cached: NodeImages;
let fresh: NodeImages;
let layout: string;
const rootfsCache = new Map<string, string>();

function image(name: NodeImage["name"]): NodeImage {
  const found = fresh.images.find((i) => i.name === name);
  if (!found) throw new Error(`no ${name} image in the summary`);
  return found;
}

function rootfsOf(name: NodeImage["name"]): { rootfs: string; config: ImageConfig } {
  const { manifest, config } = readImage(layout, image(name).digest);
  let rootfs = rootfsCache.get(name);
  if (!rootfs) {
    rootfs = join(work, "rootfs", name);
    mkdirSync(rootfs, { recursive: true });
    unpackImage(layout, manifest, rootfs);
    rootfsCache.set(name, rootfs);
  }
  return { rootfs, config };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "node-images-test-"));
  // The cached archive (assembled now if the inputs changed), then a fresh assembly from the same
  // staged inputs into another folder: the determinism check, and the archive the rest inspects.
  cached = await assembleNodeImages({ outDir: join(work, "a") });
  fresh = await assembleNodeImages({ outDir: join(work, "b"), fresh: true });
  layout = join(work, "layout");
  mkdirSync(layout);
  must("tar", ["--extract", `--file=${fresh.archive}`, `--directory=${layout}`]);
}, 20 * 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the archive", () => {
  it("is the same bytes when assembled twice from the same inputs", () => {
    const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
    expect(fresh.images.map((i) => [i.ref, i.digest])).toEqual(cached.images.map((i) => [i.ref, i.digest]));
    expect(sha(fresh.archive)).toBe(sha(cached.archive));
  });

  it("names the fleet's images as the program's prebuilt references, plus redis and pause", () => {
    const refs = prebuiltImages({ repository: DEFAULT_REPOSITORY, tag: DEFAULT_TAG }).refs;
    expect(fresh.images.map((i) => [i.name, i.ref])).toEqual([
      ...IMAGE_NAMES.map((name) => [name, refs[name]]),
      ["redis", REDIS_IMAGE_REF],
      ["pause", PAUSE_IMAGE_REF],
    ]);
  });

  it("indexes each image's one linux/amd64 manifest under its tag and its digest, as containerd names them", () => {
    const expected = fresh.images.flatMap((image) => {
      const repository = image.ref.slice(0, image.ref.lastIndexOf(":"));
      const tag = image.ref.slice(image.ref.lastIndexOf(":") + 1);
      const byDigest = `${repository}@${image.digest}`;
      const entry = (name: string, refName: string) => ({
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: image.digest,
        platform: { architecture: "amd64", os: "linux" },
        annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": refName },
      });
      return [entry(image.ref, tag), entry(byDigest, byDigest)];
    });
    expect(readIndex(layout).map(({ size: _size, ...entry }) => entry)).toEqual(expected);
    expect(JSON.parse(readFileSync(join(layout, "oci-layout"), "utf8"))).toEqual({
      imageLayoutVersion: "1.0.0",
    });
  });

  it("shares the base, node_modules and runtime layers; an agent adds one layer of its own", () => {
    const layers = (name: ImageName) =>
      readImage(layout, image(name).digest).manifest.layers.map((l) => l.digest);
    const router = layers("router");
    expect(router).toHaveLength(3);
    const own = AGENT_TYPES.map((agent) => {
      const agentLayers = layers(agent);
      expect(agentLayers.slice(0, 3)).toEqual(router);
      expect(agentLayers).toHaveLength(4);
      return agentLayers[3];
    });
    expect(new Set(own).size).toBe(AGENT_TYPES.length);
  });
});

describe("image configs equal images/Dockerfile's", () => {
  const dockerfile = readFileSync(join(ROOT, DOCKERFILE), "utf8");

  it.each([...IMAGE_NAMES])("%s", (name) => {
    const { target, buildArgs } = imageBuildSpec(name);
    const expected = dockerfileConfig(dockerfile, target, buildArgs, externalBase);
    const { config } = readImage(layout, image(name).digest);
    expect(config.architecture).toBe("amd64");
    expect(config.os).toBe("linux");
    expect(asDockerfileConfig(config.config)).toEqual(expected);
  });

  it("the resolver reads what the Dockerfile says, not a default (python)", () => {
    // Guards the comparison above against a resolver that returns the same thing for everything.
    expect(dockerfileConfig(dockerfile, "agent", { AGENT_TYPE: "python" }, externalBase)).toEqual({
      User: "10001:10001",
      Env: [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "NODE_ENV=production",
        "HOME=/tmp",
        "AGENT_TYPE=python",
        "AGENT_TRACK=stable",
        "AGENT_CONFIG_DIR=/app/images/agents/python",
      ],
      Entrypoint: ["node", "/app/agent-runtime/bin/agent-fleet.js"],
      Cmd: ["worker"],
      WorkingDir: "/app",
      ExposedPorts: ["8080/tcp"],
    });
    expect(
      dockerfileConfig(dockerfile, "agent", { AGENT_TYPE: "ml", AGENT_TRACK: "canary" }, externalBase).Env,
    ).toContain("AGENT_TRACK=canary");
  });
});

/** Every path under `root` (relative, "/"-rooted), with lstat. */
function walk(root: string, dir = root): { path: string; mode: number; kind: "dir" | "file" | "link" }[] {
  const found: { path: string; mode: number; kind: "dir" | "file" | "link" }[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const stat = lstatSync(full);
    const kind = stat.isSymbolicLink() ? "link" : stat.isDirectory() ? "dir" : "file";
    found.push({ path: `/${relative(root, full)}`, mode: stat.mode & 0o7777, kind });
    if (kind === "dir") found.push(...walk(root, full));
  }
  return found;
}

/** The repository's Lua scripts, relative to agent-runtime/ (the Dockerfile's `find -name '*.lua'`). */
function luaScripts(): string[] {
  const dir = join(ROOT, "agent-runtime", "src");
  return walk(dir)
    .filter((e) => e.kind === "file" && e.path.endsWith(".lua"))
    .map((e) => `src${e.path}`)
    .sort();
}

describe.each(["router", "python"] as const)("the %s image's files", (name) => {
  it("sit where the Dockerfile puts them", () => {
    const { rootfs } = rootfsOf(name);
    const at = (path: string) => join(rootfs, path);
    for (const path of [
      "/app/node_modules/ioredis/package.json",
      "/app/agent-runtime/node_modules",
      "/app/agent-runtime/package.json",
      "/app/agent-runtime/dist/cli/main.js",
      "/usr/local/bin/node",
      "/lib64/ld-linux-x86-64.so.2",
    ]) {
      expect(existsSync(at(path)), path).toBe(true);
    }
    expect(lstatSync(at("/app/agent-runtime/bin/agent-fleet.js")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(at("/usr/local/bin/agent-fleet"))).toBe("/app/agent-runtime/bin/agent-fleet.js");
    // Production dependencies of the runtime only: none of the root's Pulumi SDKs or dev tools.
    expect(existsSync(at("/app/node_modules/@pulumi"))).toBe(false);
    expect(existsSync(at("/app/node_modules/typescript"))).toBe(false);
    // dist/ without declarations; of src/, only the Lua scripts, at their paths.
    const runtimeFiles = walk(at("/app/agent-runtime")).filter((e) => e.kind === "file");
    expect(runtimeFiles.filter((e) => /\.d\.ts(\.map)?$/.test(e.path))).toEqual([]);
    expect(
      runtimeFiles
        .filter((e) => e.path.startsWith("/src/"))
        .map((e) => e.path.slice(1))
        .sort(),
    ).toEqual(luaScripts());
    const agentsDir = at("/app/images/agents");
    if (name === "router") {
      expect(existsSync(agentsDir)).toBe(false);
    } else {
      expect(readdirSync(agentsDir)).toEqual([name]);
      for (const file of readdirSync(join(ROOT, "images", "agents", name))) {
        expect(readFileSync(join(agentsDir, name, file))).toEqual(
          readFileSync(join(ROOT, "images", "agents", name, file)),
        );
      }
    }
  });

  it("has user agent 10001 (home /tmp, no login), an empty /tmp 1777, and nothing else world-writable", () => {
    const { rootfs } = rootfsOf(name);
    expect(readFileSync(join(rootfs, "etc/passwd"), "utf8")).toMatch(
      /^agent:x:10001:10001:[^:]*:\/tmp:\/sbin\/nologin$/m,
    );
    expect(readFileSync(join(rootfs, "etc/group"), "utf8")).toMatch(/^agent:x:10001:$/m);
    expect(lstatSync(join(rootfs, "tmp")).mode & 0o7777).toBe(0o1777);
    expect(readdirSync(join(rootfs, "tmp"))).toEqual([]);
    const writable = walk(rootfs).filter((e) => e.kind !== "link" && e.mode & 0o002 && e.path !== "/tmp");
    expect(writable.map((e) => e.path)).toEqual([]);
  });

  it.runIf(isRoot)(
    "runs: the CLI's usage through the entrypoint and the PATH symlink, the Lua scripts and the agent profile load",
    () => {
      const { rootfs, config } = rootfsOf(name);
      const user = config.config.User ?? "";
      const check = [
        "const q = require('/app/agent-runtime/dist/queue/scripts');",
        "for (const n of q.SCRIPT_NAMES) q.scriptSource(n);",
        "const out = { lua: q.luaDirectory(), scripts: q.SCRIPT_NAMES.length, home: require('node:os').homedir() };",
        "if (process.env.AGENT_CONFIG_DIR) {",
        "  const c = require('/app/agent-runtime/dist/executors/config');",
        "  out.prompt = c.loadAgentProfile(process.env.AGENT_CONFIG_DIR).systemPrompt.length > 0;",
        "}",
        "console.log(JSON.stringify(out));",
      ].join(" ");
      const script = [
        "in_image node /app/agent-runtime/bin/agent-fleet.js --help || exit 11",
        "in_image agent-fleet --version || exit 12",
        `in_image node -e ${JSON.stringify(check)} || exit 13`,
      ].join("\n");
      const run = inSandbox(rootfs, script, { scratch: ["/tmp"], env: config.config.Env ?? [], user });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const lines = run.stdout.trim().split("\n");
      expect(lines[0]).toBe("Usage: agent-fleet [options] [command]");
      const result = z
        .object({ lua: z.string(), scripts: z.number(), home: z.string(), prompt: z.boolean().optional() })
        .parse(JSON.parse(lines.at(-1) ?? ""));
      expect(result).toMatchObject({ lua: "/app/agent-runtime/src/queue/lua", home: "/tmp" });
      expect(result.scripts).toBeGreaterThan(0);
      if (name !== "router") expect(result.prompt).toBe(true);
    },
  );
});

describe.runIf(isRoot)("the redis image", () => {
  it("serves and turns ready as the rendered StatefulSet runs it (uid 999, read-only root, /data and /tmp mounted)", async () => {
    const rendered = await renderStack(join(ROOT, "Pulumi.e2e.yaml"), "stand-ins");
    const statefulSet = rendered.objects.find((o) => o.kind === "StatefulSet" && o.name === "redis");
    const container = z
      .object({
        command: z.array(z.string()),
        args: z.array(z.string()),
        securityContext: z.object({
          runAsUser: z.number(),
          runAsGroup: z.number(),
          readOnlyRootFilesystem: z.literal(true),
        }),
        volumeMounts: z.array(z.object({ mountPath: z.string() })),
        readinessProbe: z.object({ exec: z.object({ command: z.array(z.string()) }) }),
      })
      .parse(
        z
          .object({
            spec: z.object({ template: z.object({ spec: z.object({ containers: z.array(z.unknown()) }) }) }),
          })
          .parse(statefulSet?.manifest).spec.template.spec.containers[0],
      );
    const password = "node-images-test";
    // kubelet expands $(VAR) in command and args from the container's env.
    const argv = [...container.command, ...container.args].map((a) =>
      a.replace("$(REDIS_PASSWORD)", password),
    );
    const { rootfs, config } = rootfsOf("redis");
    const quote = (words: string[]) => words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(" ");
    const script = [
      `start_in_image ${quote(argv)} > /dev/null`,
      "server=$started",
      "ready=no",
      // The probe fails (redis-cli: connection refused) until the server listens; only its last try counts.
      `for i in $(seq 50); do if in_image ${quote(container.readinessProbe.exec.command)} 2>/dev/null; then ready=yes; break; fi; sleep 0.1; done`,
      'echo "ready=$ready"',
      "in_image redis-server --version",
      `in_image redis-cli --no-auth-warning -a ${password} set queued task`,
      `in_image redis-cli --no-auth-warning -a ${password} eval 'return cjson.encode({1,2})' 0`,
      `in_image sh -c 'echo PONG | grep -q PONG' && echo probe-tools-ok`,
      `ls "$R/data"`,
      "kill $server; wait $server",
    ].join("\n");
    const { securityContext } = container;
    const run = inSandbox(rootfs, script, {
      scratch: container.volumeMounts.map((m) => m.mountPath),
      env: [...(config.config.Env ?? []), `REDIS_PASSWORD=${password}`],
      user: `${securityContext.runAsUser}:${securityContext.runAsGroup}`,
    });
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("ready=yes");
    expect(run.stdout).toMatch(/^Redis server v=7\.0\./m);
    expect(run.stdout).toContain("OK");
    expect(run.stdout).toContain("[1,2]");
    expect(run.stdout).toContain("probe-tools-ok");
    // aof-everysec (the e2e stack's persistence) writes its AOF under /data, the mounted volume.
    expect(run.stdout).toContain("appendonlydir");
    expect(config.config.User).toBe("999:999");
  });
});

/** Whether an ELF file asks for an interpreter (PT_INTERP) or dynamic linking (PT_DYNAMIC). */
function elfProgramHeaderTypes(file: string): number[] {
  const fd = openSync(file, "r");
  try {
    const header = Buffer.alloc(64);
    readSync(fd, header, 0, 64, 0);
    if (header.toString("latin1", 0, 4) !== "\x7fELF" || header[4] !== 2)
      throw new Error(`${file}: not ELF64`);
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    return Array.from({ length: phnum }, (_, i) => table.readUInt32LE(i * phentsize));
  } finally {
    closeSync(fd);
  }
}

describe("the pause image", () => {
  it("is one static binary that runs as 65535 and stops cleanly on SIGTERM", () => {
    const { rootfs, config } = rootfsOf("pause");
    expect(walk(rootfs).map((e) => e.path)).toEqual(["/pause"]);
    const PT_DYNAMIC = 2;
    const PT_INTERP = 3;
    const types = elfProgramHeaderTypes(join(rootfs, "pause"));
    expect(types).not.toContain(PT_INTERP);
    expect(types).not.toContain(PT_DYNAMIC);
    expect(config.config).toEqual({
      User: "65535:65535",
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Entrypoint: ["/pause"],
      WorkingDir: "/",
    });
    if (!isRoot) return;
    const script = [
      "in_image /pause -v",
      // pause warns on stderr that it is not PID 1 (here the sandbox's shell is).
      "start_in_image /pause 2>/dev/null",
      "pid=$started",
      "sleep 0.3",
      "kill -0 $pid && echo running",
      "kill -TERM $pid; wait $pid; echo exit=$?",
    ].join("\n");
    const run = inSandbox(rootfs, script, {
      scratch: [],
      env: config.config.Env ?? [],
      user: config.config.User ?? "",
    });
    expect(run.stdout).toMatch(/^pause\.c v3\.10\.2-agent-fleet$/m);
    expect(run.stdout).toContain("running");
    expect(run.stdout).toContain("exit=0");
  });
});

// Only where test/e2e/toolchain.sh has built containerd (CI does, for the node): this suite never
// starts that build (about 3 minutes) itself.
const containerd = builtContainerd(ROOT, defaultCacheRoot());

describe.runIf(isRoot && containerd !== undefined)("containerd", () => {
  it("imports the archive under every name: each tag and each <repository>@<digest>", async () => {
    const daemon = await startContainerd(
      containerd as NonNullable<typeof containerd>,
      join(work, "containerd"),
    );
    try {
      daemon.ctr(["--namespace", "k8s.io", "images", "import", fresh.archive]);
      const names = daemon
        .ctr(["--namespace", "k8s.io", "images", "ls", "--quiet"])
        .split("\n")
        // The CRI plugin adds each image under its config digest too (its image ID).
        .filter((name) => name !== "" && !name.startsWith("sha256:"));
      const expected = fresh.images.flatMap((i) => [
        i.ref,
        `${i.ref.slice(0, i.ref.lastIndexOf(":"))}@${i.digest}`,
      ]);
      expect(names.sort()).toEqual(expected.sort());
    } finally {
      await daemon.stop();
    }
  });
});
