/**
 * Files taken from this Debian host into an image: an executable plus every shared library it
 * loads and the dynamic loader, as ldd resolves them here, and the Debian packages they come from
 * (their versions are part of the images' cache key).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { realpathSync } from "node:fs";

/**
 * The absolute paths of the shared objects `executable` loads, the dynamic loader included, as ldd
 * prints them (symlinks such as libstdc++.so.6 not resolved: the loader looks for that name).
 * Empty for a static executable.
 */
export function sharedLibraries(executable: string): string[] {
  const run = spawnSync("ldd", [executable], { encoding: "utf8" });
  if (run.error) throw new Error(`ldd ${executable}: ${run.error.message} (install libc-bin)`);
  const output = `${run.stdout}${run.stderr}`;
  if (/not a dynamic executable|statically linked/.test(output)) return [];
  if (run.status !== 0) throw new Error(`ldd ${executable} exited with ${run.status}: ${output.trim()}`);
  const missing = output.split("\n").filter((line) => line.includes("=> not found"));
  if (missing.length > 0) {
    throw new Error(`${executable} needs libraries this host lacks:\n${missing.join("\n")}`);
  }
  const paths = new Set<string>();
  for (const line of output.split("\n")) {
    // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`;
    // linux-vdso.so.1 has no path: the kernel maps it into every process.
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1]) paths.add(match[1]);
  }
  return [...paths].sort();
}

/** A file of this host and the path it takes in an image. */
export interface HostFile {
  from: string;
  to: string;
}

/** Executables and the libraries they load, each at the path it has here. */
export function withLibraries(executables: readonly string[]): HostFile[] {
  const paths = new Set<string>();
  for (const executable of executables) {
    paths.add(executable);
    for (const library of sharedLibraries(executable)) paths.add(library);
  }
  return [...paths].sort().map((path) => ({ from: path, to: path }));
}

/**
 * `package → version` of the Debian packages that ship `paths`. dpkg knows a file by the path its
 * package installs it at, which on a merged-/usr system may be the symlinked one (/lib/…/libc.so.6)
 * or the real one (/usr/lib/…/libstdc++.so.6.0.30); both are asked.
 */
export function debianPackages(paths: readonly string[]): Record<string, string> {
  const candidates = new Map(paths.map((p) => [p, [p, realpathSync(p)]] as const));
  const search = spawnSync("dpkg", ["-S", ...new Set([...candidates.values()].flat())], { encoding: "utf8" });
  if (search.error) throw new Error(`dpkg -S: ${search.error.message} (this needs a Debian host)`);
  const owner = new Map<string, string>();
  for (const line of search.stdout.split("\n")) {
    // `libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6`; a file shared by packages lists them all.
    const at = line.lastIndexOf(": /");
    if (at < 0) continue;
    const firstPackage = line.slice(0, at).split(", ")[0];
    if (firstPackage) owner.set(line.slice(at + 2), firstPackage);
  }
  const packages = new Set<string>();
  for (const [path, names] of candidates) {
    const found = names.map((n) => owner.get(n)).find((p) => p !== undefined);
    if (!found) throw new Error(`no Debian package ships ${path} (dpkg -S ${names.join(" ")})`);
    packages.add(found);
  }
  const sorted = [...packages].sort();
  const query = execFileSync("dpkg-query", ["-W", "-f", "${binary:Package}\t${Version}\n", ...sorted], {
    encoding: "utf8",
  });
  const versions: Record<string, string> = {};
  for (const line of query.trim().split("\n")) {
    const [name, version] = line.split("\t");
    if (name && version) versions[name] = version;
  }
  return versions;
}
