/**
 * The task input of `agent-fleet submit`: `--input` takes a JSON object, `--prompt` plain text
 * (sent as `{"prompt": "<text>"}`); each also reads `@file` or `-` (stdin). Exactly one of them.
 * Text is never guessed to be JSON or not: a mistyped object is an error, not a prompt.
 */
import { readFileSync } from "node:fs";
import { describeJson } from "../executors/prompt";

export class InputError extends Error {
  override readonly name = "InputError";
}

const INPUT_ALLOWED = `it takes a JSON object such as '{"prompt": "..."}', @file or - (stdin); for plain text use --prompt`;

export interface TaskInputFlags {
  input?: string | undefined;
  prompt?: string | undefined;
}

export function parseTaskInput(
  flags: TaskInputFlags,
  readStdin: () => string = () => readFileSync(0, "utf8"),
): Record<string, unknown> {
  if (flags.input !== undefined && flags.prompt !== undefined) {
    throw new InputError(
      `--input and --prompt together: give one; to send a prompt with other fields, put it in the object: --input '{"prompt": "...", ...}'`,
    );
  }
  if (flags.prompt !== undefined) return { prompt: readText("--prompt", flags.prompt, readStdin) };
  if (flags.input === undefined) {
    throw new InputError(
      `give the task's input: --prompt <text> or --input <JSON object> (each also takes @file or -)`,
    );
  }
  const text = readText("--input", flags.input, readStdin);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`--input is not valid JSON (${reason}); ${INPUT_ALLOWED}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputError(`--input must be a JSON object, got ${describeJson(value)}; ${INPUT_ALLOWED}`);
  }
  return value as Record<string, unknown>;
}

/** The flag's text: inline, `@path` (a file) or `-` (stdin); never empty. */
function readText(flag: string, raw: string, readStdin: () => string): string {
  let text = raw;
  if (raw === "-") text = readStdin();
  else if (raw.startsWith("@")) {
    const file = raw.slice(1);
    try {
      text = readFileSync(file, "utf8");
    } catch {
      throw new InputError(`${flag} ${raw}: cannot read ${file}`);
    }
  }
  if (text.trim() === "") throw new InputError(`${flag} is empty`);
  return text;
}
