/**
 * A layer's file tree, made on disk from a list of entries before it is tarred. Modes are set here,
 * not inherited from wherever the files came from: folders 0755, files 0755 when executable and 0644
 * otherwise, so no file in an image is writable by anyone but root (whatever umask or package
 * extracted it), and only entries that ask for another mode (/tmp: 1777) get one.
 */
import {
  chmodSync,
  copyFileSync,
  cpSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

export type TreeEntry =
  /** A host file (a symlink's target content, as a regular file) or a folder (copied whole, symlinks as they are). */
  | { path: string; copyFrom: string }
  | { path: string; text: string }
  | { path: string; symlink: string }
  | { path: string; directory: true; mode?: number };

/** Makes `root` hold `entries` (paths relative to the image's /). */
export function buildTree(root: string, entries: readonly TreeEntry[]): void {
  mkdirSync(root, { recursive: true });
  const modes: [string, number][] = [];
  for (const entry of entries) {
    if (entry.path.startsWith("/") || entry.path.split("/").includes("..")) {
      throw new Error(`layer entry ${entry.path}: expected a relative path inside the image`);
    }
    const target = join(root, entry.path);
    mkdirSync(dirname(target), { recursive: true });
    if ("copyFrom" in entry) {
      if (statSync(entry.copyFrom).isDirectory()) {
        cpSync(entry.copyFrom, target, { recursive: true, verbatimSymlinks: true });
      } else {
        copyFileSync(realpathSync(entry.copyFrom), target);
      }
    } else if ("text" in entry) {
      writeFileSync(target, entry.text);
    } else if ("symlink" in entry) {
      symlinkSync(entry.symlink, target);
    } else {
      mkdirSync(target, { recursive: true });
      if (entry.mode !== undefined) modes.push([target, entry.mode]);
    }
  }
  normaliseModes(root);
  for (const [path, mode] of modes) chmodSync(path, mode);
}

function normaliseModes(dir: string): void {
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) normaliseModes(path);
    else if (stat.isFile()) chmodSync(path, stat.mode & 0o111 ? 0o755 : 0o644);
    else throw new Error(`${path}: only files, folders and symlinks belong in an image layer`);
  }
}
