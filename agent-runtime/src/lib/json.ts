/**
 * JSON over node:http for every runtime server (the router's /v1/*, the agent's /v1/execute and
 * the probes of lib/http.ts): bounded body reading, zod validation and one error shape,
 * {error, details}, for every 4xx/5xx.
 */
import { isUtf8 } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";

/**
 * Deepest nesting of objects and arrays a JSON body may have, the body itself counting as 1
 * (`{"input": {"prompt": "..."}}` is 2). Documented in docs/runtime.md.
 */
export const MAX_JSON_DEPTH = 64;

export interface ErrorDetail {
  path: string;
  message: string;
}

export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly details?: ErrorDetail[] | Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(payload);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  const body =
    error.details === undefined ? { error: error.message } : { error: error.message, details: error.details };
  sendJson(res, error.status, body, error.headers);
}

/**
 * Read a JSON body of at most `limitBytes`. Oversized bodies are refused from Content-Length
 * before reading, or as soon as the streamed bytes pass the limit; the connection is then
 * closed so the client's unread upload cannot be taken as the next request. The body must be
 * UTF-8 (no other charset, no invalid bytes, no lone surrogates in its strings) and nest at most
 * MAX_JSON_DEPTH levels: each is refused with a 4xx that says where, never turned into U+FFFD or
 * a validator's stack overflow.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  checkContentType(req.headers["content-type"]);
  const tooLarge = () =>
    new HttpError(
      413,
      `request body is larger than the ${limitBytes}-byte limit`,
      { limitBytes },
      { connection: "close" },
    );
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge();

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  const bad = invalidUtf8Offset(bytes);
  if (bad >= 0) {
    throw new HttpError(
      400,
      `request body is not valid UTF-8: byte 0x${bytes[bad]!.toString(16).padStart(2, "0")} at offset ${bad}; send the JSON encoded as UTF-8`,
    );
  }
  const text = bytes.toString("utf8");
  if (text.trim() === "") throw new HttpError(400, "request body is empty; send a JSON object");
  // Before parsing: recursive validators (zod's z.json()) overflow the stack on deep nesting.
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new HttpError(
      400,
      `request body is nested deeper than ${MAX_JSON_DEPTH} levels of objects and arrays; flatten it`,
      { maxDepth: MAX_JSON_DEPTH },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(
      400,
      `request body is not valid JSON: ${error instanceof Error ? error.message : ""}`,
    );
  }
  const surrogate = loneSurrogate(value, []);
  if (surrogate) {
    const [path, unit] = surrogate;
    const message = `holds a lone UTF-16 surrogate ${unit}; JSON strings must be valid Unicode (a \\uD800-\\uDBFF escape must be followed by a \\uDC00-\\uDFFF one)`;
    throw new HttpError(400, `request body has a lone UTF-16 surrogate ${unit} at ${path}`, [
      { path, message },
    ]);
  }
  return value;
}

/** Content-Type must be application/json, in UTF-8 (the only charset JSON allows, RFC 8259). */
function checkContentType(header: string | undefined): void {
  const [rawType = "", ...params] = (header ?? "").split(";");
  const type = rawType.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(
      415,
      `send the body as JSON with Content-Type: application/json (got ${type || "none"})`,
    );
  }
  for (const param of params) {
    const [name = "", value = ""] = param.split("=", 2).map((p) => p.trim().toLowerCase());
    const charset = value.replace(/^"(.*)"$/, "$1");
    if (name === "charset" && charset !== "utf-8" && charset !== "utf8") {
      throw new HttpError(
        415,
        `Content-Type charset=${charset} is not supported; send JSON in UTF-8 (charset=utf-8, or no charset)`,
      );
    }
  }
}

/**
 * The deepest nesting of objects and arrays in JSON text, counted without parsing (brackets
 * inside strings do not count). Also bounds text that would not parse, so the answer is cheap.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
      if (max > MAX_JSON_DEPTH) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Offset of the first byte that is not well-formed UTF-8, or -1. */
export function invalidUtf8Offset(bytes: Buffer): number {
  if (isUtf8(bytes)) return -1;
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const [length, min, max] =
      b < 0x80
        ? [1, 0, 0]
        : b >= 0xc2 && b <= 0xdf
          ? [2, 0x80, 0xbf]
          : b === 0xe0
            ? [3, 0xa0, 0xbf] // no overlong forms
            : b === 0xed
              ? [3, 0x80, 0x9f] // no UTF-16 surrogates
              : b >= 0xe1 && b <= 0xef
                ? [3, 0x80, 0xbf]
                : b === 0xf0
                  ? [4, 0x90, 0xbf]
                  : b >= 0xf1 && b <= 0xf3
                    ? [4, 0x80, 0xbf]
                    : b === 0xf4
                      ? [4, 0x80, 0x8f] // nothing above U+10FFFF
                      : [0, 0, 0];
    if (length === 0 || i + length > bytes.length) return i;
    const second = bytes[i + 1] ?? 0;
    if (length > 1 && (second < min || second > max)) return i;
    for (let k = 2; k < length; k++) {
      const next = bytes[i + k]!;
      if (next < 0x80 || next > 0xbf) return i;
    }
    i += length;
  }
  return -1;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path and code unit of the first lone surrogate in a parsed value's strings or keys. */
function loneSurrogate(value: unknown, path: string[]): [string, string] | undefined {
  const found = (text: string, at: string[]): [string, string] | undefined => {
    const match = LONE_SURROGATE.exec(text);
    if (!match) return undefined;
    return [at.join(".") || "(body)", `\\u${match[0].charCodeAt(0).toString(16)}`];
  };
  if (typeof value === "string") return found(value, path);
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const hit = found(key, path) ?? loneSurrogate(item, [...path, key]);
    if (hit) return hit;
  }
  return undefined;
}

/** Validate with zod; a failure is a 400 listing every problem with its JSON path. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new HttpError(
    400,
    `invalid ${what}`,
    parsed.error.issues.map((issue) => ({ path: issue.path.join(".") || "(body)", message: issue.message })),
  );
}
