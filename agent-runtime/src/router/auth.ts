/**
 * Bearer-token auth for the router. Tokens come from ROUTER_TOKENS_FILE (one per line; blank
 * lines and `#` comments ignored; re-read when the file changes, so a rotated Kubernetes Secret
 * takes effect without a restart) or ROUTER_TOKENS (comma-separated).
 * The presented token is hashed and compared with every known hash by crypto.timingSafeEqual,
 * without stopping at the first match: equal-length digests make the comparison time independent
 * of both the token's length and where it first differs.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";

export const MIN_TOKEN_LENGTH = 16;
const RELOAD_CHECK_MS = 5_000;

export class RouterConfigError extends Error {
  override readonly name = "RouterConfigError";
}

export interface TokenSource {
  file?: string | undefined;
  /** Comma-separated. */
  list?: string | undefined;
}

export class TokenAuth {
  private hashes: Buffer[] = [];
  private fileMtimeMs = -1;
  private lastCheck = 0;

  constructor(private readonly source: TokenSource) {
    this.load(true);
  }

  get size(): number {
    return this.hashes.length;
  }

  /** True when the Authorization header carries a known bearer token. */
  check(authorization: string | undefined): boolean {
    this.reloadIfChanged();
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
    if (!match) return false;
    const presented = digest(match[1]!);
    let ok = false;
    for (const known of this.hashes) ok = timingSafeEqual(presented, known) || ok;
    return ok;
  }

  private reloadIfChanged(): void {
    if (!this.source.file || Date.now() - this.lastCheck < RELOAD_CHECK_MS) return;
    this.lastCheck = Date.now();
    try {
      if (statSync(this.source.file).mtimeMs !== this.fileMtimeMs) this.load(false);
    } catch {
      // The file vanished mid-rotation: keep the tokens we have rather than lock everyone out.
    }
  }

  private load(strict: boolean): void {
    const tokens: string[] = [];
    const { file, list } = this.source;
    if (file) {
      let text: string;
      try {
        this.fileMtimeMs = statSync(file).mtimeMs;
        text = readFileSync(file, "utf8");
      } catch {
        if (strict) throw new RouterConfigError(`ROUTER_TOKENS_FILE=${file}: cannot read the file`);
        return;
      }
      tokens.push(...parseLines(text, `ROUTER_TOKENS_FILE=${file}`, strict));
    }
    if (list) tokens.push(...parseList(list, strict));
    if (tokens.length === 0 && !strict) return;
    this.hashes = tokens.map(digest);
  }
}

function parseLines(text: string, where: string, strict: boolean): string[] {
  const tokens: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    if (validToken(line, `${where} line ${index + 1}`, strict)) tokens.push(line);
  });
  return tokens;
}

function parseList(list: string, strict: boolean): string[] {
  return list
    .split(",")
    .map((t) => t.trim())
    .filter((t, i) => t !== "" && validToken(t, `ROUTER_TOKENS entry ${i + 1}`, strict));
}

function validToken(token: string, where: string, strict: boolean): boolean {
  const problem = /\s/.test(token)
    ? "contains whitespace"
    : token.length < MIN_TOKEN_LENGTH
      ? `is shorter than ${MIN_TOKEN_LENGTH} characters`
      : undefined;
  if (problem && strict) throw new RouterConfigError(`${where}: the token ${problem}`);
  return problem === undefined;
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}
