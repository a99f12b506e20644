/** `--input` for `agent-fleet submit`: JSON, plain text, `@file` or `-` (stdin). */
import { readFileSync } from "node:fs";

export class InputError extends Error {
  override readonly name = "InputError";
}

/**
 * `@path` reads a file, `-` reads stdin; the text is parsed as JSON when it is JSON and sent as
 * a string otherwise, so `--input "write a haiku"` and `--input '{"prompt": "..."}'` both work.
 */
export function parseTaskInput(
  raw: string,
  readStdin: () => string = () => readFileSync(0, "utf8"),
): unknown {
  let text = raw;
  if (raw === "-") text = readStdin();
  else if (raw.startsWith("@")) {
    const file = raw.slice(1);
    try {
      text = readFileSync(file, "utf8");
    } catch {
      throw new InputError(`--input ${raw}: cannot read ${file}`);
    }
  }
  const trimmed = text.trim();
  if (trimmed === "") throw new InputError("--input is empty");
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return text;
  }
}
