/**
 * The output folder of `npm run render`. Render writes a marker file into it listing every file it
 * wrote, and replaces a folder only when it is new, empty, or an earlier render holding nothing
 * but the files its marker lists: a mistyped `--out` (`.`, a source folder) loses nothing.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, relative } from "node:path";

/** The marker's file name, inside the output folder. */
export const RENDER_MARKER = ".agent-fleet-render";

const MARKER_HEADER =
  "# Written by `npm run render` (agent-fleet): the files of this render, one per line. Render replaces\n" +
  "# this folder only while it holds nothing but these files; keep files of your own elsewhere.\n";

/** A reason render will not write into the output folder; the CLI prints it (no stack trace). */
export class RenderOutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RenderOutError";
  }
}

export function markerText(files: readonly string[]): string {
  return MARKER_HEADER + files.map((f) => `${f}\n`).join("");
}

/** Every file (anything not a folder) under `dir`, as sorted relative paths. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (lstatSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

const shown = (files: readonly string[]) =>
  files.length <= 10 ? files.join(", ") : `${files.slice(0, 10).join(", ")} and ${files.length - 10} more`;

/**
 * The files of the earlier render in `dir` (empty when `dir` is missing or empty). Throws
 * RenderOutError, naming the files and what to do, when `dir` holds anything render did not write.
 */
export function previousRender(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (!lstatSync(dir).isDirectory()) {
    throw new RenderOutError(`render: --out ${dir} is a file, not a folder; give a folder for --out`);
  }
  const present = filesUnder(dir);
  if (present.length === 0) return [];
  if (!present.includes(RENDER_MARKER)) {
    throw new RenderOutError(
      `render: will not write into ${dir}: it is not empty and not an earlier render (it has no ${RENDER_MARKER} ` +
        `file), and render replaces its whole output folder. It holds ${shown(present)}. ` +
        `Give a new or empty folder for --out (the default is .render/<stack>), or move those files away.`,
    );
  }
  const listed = readFileSync(join(dir, RENDER_MARKER), "utf8")
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"));
  const outside = listed.filter((f) => isAbsolute(f) || normalize(f).startsWith(".."));
  if (outside.length > 0) {
    throw new RenderOutError(
      `render: will not replace ${dir}: its ${RENDER_MARKER} lists paths outside the folder (${shown(outside)}); ` +
        `render never writes those. Delete the folder yourself if it is a render, or give another --out.`,
    );
  }
  const known = new Set([...listed.map(normalize), RENDER_MARKER]);
  const foreign = present.filter((f) => !known.has(f));
  if (foreign.length > 0) {
    throw new RenderOutError(
      `render: will not replace ${dir}: it holds files the earlier render did not write: ${shown(foreign)}. ` +
        `Move them out of the folder, or give another --out.`,
    );
  }
  return [...listed, RENDER_MARKER];
}

/**
 * Puts the finished render `ready` (a sibling folder) in place of `dir`, whose earlier render
 * `previous` lists. The earlier render is moved aside first, so `dir` never holds half of one;
 * then only its listed files are deleted, and whatever else is left there stays: the folder
 * holding it is returned (undefined when nothing was left).
 */
export function replaceRender(ready: string, dir: string, previous: readonly string[]): string | undefined {
  if (!existsSync(dir)) {
    renameSync(ready, dir);
    return undefined;
  }
  const aside = `${ready}-previous`;
  renameSync(dir, aside);
  renameSync(ready, dir);
  for (const file of previous) rmSync(join(aside, file), { force: true });
  // Folders emptied by that, deepest first; a folder still holding something stays.
  const folders = new Set<string>();
  for (const file of previous) {
    for (let d = dirname(file); d !== "."; d = dirname(d)) folders.add(d);
  }
  for (const folder of [...[...folders].sort((a, b) => b.length - a.length), "."]) {
    try {
      rmdirSync(join(aside, folder));
    } catch {
      // Not empty: not ours to delete.
    }
  }
  return existsSync(aside) ? aside : undefined;
}
