/**
 * JSON over node:http for every runtime server (the router's /v1/*, the agent's /v1/execute and
 * the probes of lib/http.ts): bounded body reading, zod validation and one error shape,
 * {error, details}, for every 4xx/5xx.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";

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
 * closed so the client's unread upload cannot be taken as the next request.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(
      415,
      `send the body as JSON with Content-Type: application/json (got ${type || "none"})`,
    );
  }
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
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new HttpError(400, "request body is empty; send a JSON object");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(
      400,
      `request body is not valid JSON: ${error instanceof Error ? error.message : ""}`,
    );
  }
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
