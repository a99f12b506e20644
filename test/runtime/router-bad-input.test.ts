/**
 * Every mistake a client can make on the router's HTTP API, as a table: each malformed request
 * gets its exact status and a JSON error naming the field and what is allowed, nothing reaches
 * Redis, and nothing the client did puts a stack trace in the log.
 */
import http from "node:http";
import { Socket } from "node:net";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../../agent-runtime/src/lib/json";
import { createMetrics } from "../../agent-runtime/src/lib/metrics";
import { loadRouterConfig } from "../../agent-runtime/src/router/config";
import { startRouter, type RunningRouter } from "../../agent-runtime/src/router/main";
import { keysUnder, startRedis, uniquePrefix, type RedisServer } from "./support";

const TOKEN = "corpus-token-0123456789abcdef";
const LIMIT = 1024 * 1024;
const logLines: string[] = [];

let redis: RedisServer;
let router: RunningRouter;
let prefix: string;

beforeAll(async () => {
  redis = await startRedis({ appendonly: false });
  prefix = uniquePrefix("badinput");
  const config = loadRouterConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    ROUTER_TOKENS: TOKEN,
    ROUTER_MAX_BODY_BYTES: String(LIMIT),
  });
  router = await startRouter({
    config,
    logger: pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) }),
    registry: createMetrics(new Registry(), { processMetrics: false }).registry,
    redisTimeoutMs: 300,
  });
});

afterAll(async () => {
  await router?.close();
  await redis?.destroy();
});

interface Request {
  method?: string;
  path?: string;
  /** Replaces the default headers (JSON content type, the good token) where given; null drops one. */
  headers?: Record<string, string | null>;
  body?: unknown;
  raw?: string | Buffer;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function send(request: Request): Promise<Reply> {
  const body =
    request.raw ?? (request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body)));
  const headers: Record<string, string> = {};
  const merged: Record<string, string | null> = {
    "content-type": "application/json",
    authorization: `Bearer ${TOKEN}`,
    ...request.headers,
  };
  for (const [name, value] of Object.entries(merged)) if (value !== null) headers[name] = value;
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${router.url}${request.path ?? "/v1/tasks"}`,
      { method: request.method ?? "POST", headers, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    // The server may answer (413, 431) and close before the upload ends; the answer counts.
    req.on("error", (error) => setTimeout(() => reject(error), 200));
    req.end(body);
  });
}

/** Raw bytes on a socket, for requests node:http would not send. */
function sendRaw(bytes: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", text = ""] = data.split("\r\n\r\n", 2);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const headers: http.IncomingHttpHeaders = {};
      for (const line of head.split("\r\n").slice(1)) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status, headers, text });
    });
    socket.connect(router.port, "127.0.0.1", () => socket.write(bytes));
  });
}

const task = (fields: Record<string, unknown> = {}) => ({
  type: "code-review",
  input: { prompt: "look at this" },
  ...fields,
});
/** A task whose body nests `depth` levels: the body, its input, then arrays. */
const nested = (depth: number) =>
  `{"type": "code-review", "input": {"prompt": "x", "deep": ${"[".repeat(depth - 2)}${"]".repeat(depth - 2)}}}`;

interface Case {
  name: string;
  request: Request | { rawSocket: string };
  status: number;
  /** What the `error` field says. */
  error: RegExp;
  /** A details entry: its path and what its message says is allowed. */
  detail?: [string, RegExp];
}

const cases: Case[] = [
  // methods and paths
  {
    name: "PUT /v1/tasks",
    request: { method: "PUT", body: task() },
    status: 405,
    error: /method PUT is not allowed on \/v1\/tasks/,
  },
  {
    name: "DELETE /v1/tasks",
    request: { method: "DELETE" },
    status: 405,
    error: /method DELETE is not allowed/,
  },
  {
    name: "POST /v1/queues",
    request: { path: "/v1/queues", body: task() },
    status: 405,
    error: /method POST is not allowed on \/v1\/queues/,
  },
  {
    name: "POST to a task's URL",
    request: { path: "/v1/tasks/abc", body: task() },
    status: 405,
    error: /method POST is not allowed/,
  },
  {
    name: "unknown path",
    request: { method: "GET", path: "/v1/task" },
    status: 404,
    error: /no route for GET \/v1\/task/,
  },
  {
    name: "trailing slash",
    request: { path: "/v1/tasks/", body: task() },
    status: 404,
    error: /no route for POST \/v1\/tasks\//,
  },
  {
    name: "task id with a space",
    request: { method: "GET", path: "/v1/tasks/bad%20id" },
    status: 400,
    error: /invalid task id "bad id"/,
    detail: ["id", /letters, digits/],
  },
  {
    name: "task id with broken %-encoding",
    request: { method: "GET", path: "/v1/tasks/%E0%A4%A" },
    status: 400,
    error: /invalid task id/,
    detail: ["id", /letters, digits/],
  },
  {
    name: "unknown ?agent=",
    request: { method: "GET", path: "/v1/tasks/abc?agent=wizard" },
    status: 400,
    error: /unknown agent "wizard"/,
    detail: ["agent", /one of python, /],
  },
  // content types and charsets
  {
    name: "no Content-Type",
    request: { headers: { "content-type": null }, body: task() },
    status: 415,
    error: /Content-Type: application\/json \(got none\)/,
  },
  {
    name: "text/plain",
    request: { headers: { "content-type": "text/plain" }, body: task() },
    status: 415,
    error: /\(got text\/plain\)/,
  },
  {
    name: "form-encoded",
    request: { headers: { "content-type": "application/x-www-form-urlencoded" }, raw: "type=code-review" },
    status: 415,
    error: /application\/json/,
  },
  {
    name: "charset=latin1",
    request: { headers: { "content-type": "application/json; charset=latin1" }, body: task() },
    status: 415,
    error: /charset=latin1.*UTF-8/,
  },
  {
    name: "charset=utf-16",
    request: { headers: { "content-type": 'application/json; charset="UTF-16"' }, body: task() },
    status: 415,
    error: /charset=utf-16.*UTF-8/,
  },
  // bodies that are not a JSON object
  { name: "empty body", request: { raw: "" }, status: 400, error: /request body is empty/ },
  { name: "whitespace body", request: { raw: " \n\t" }, status: 400, error: /request body is empty/ },
  {
    name: "truncated JSON",
    request: { raw: '{"type": "code-review", "input": {"prompt": "x"' },
    status: 400,
    error: /request body is not valid JSON/,
  },
  {
    name: "not JSON",
    request: { raw: "type=code-review" },
    status: 400,
    error: /request body is not valid JSON/,
  },
  {
    name: "JSON with a trailing comma",
    request: { raw: '{"type": "code-review",}' },
    status: 400,
    error: /not valid JSON/,
  },
  {
    name: "an array",
    request: { body: [task()] },
    status: 400,
    error: /invalid task/,
    detail: ["(body)", /object/],
  },
  {
    name: "null",
    request: { raw: "null" },
    status: 400,
    error: /invalid task/,
    detail: ["(body)", /object/],
  },
  {
    name: "a string",
    request: { body: "code-review" },
    status: 400,
    error: /invalid task/,
    detail: ["(body)", /object/],
  },
  {
    name: "a number",
    request: { raw: "42" },
    status: 400,
    error: /invalid task/,
    detail: ["(body)", /object/],
  },
  // fields
  {
    name: "no type",
    request: { body: { input: { prompt: "x" } } },
    status: 400,
    error: /invalid task/,
    detail: ["type", /required: the task type/],
  },
  {
    name: "type is a number",
    request: { body: task({ type: 7 }) },
    status: 400,
    error: /invalid task/,
    detail: ["type", /known types: code-generation/],
  },
  {
    name: "unknown type",
    request: { body: task({ type: "make-coffee" }) },
    status: 400,
    error: /invalid task/,
    detail: ["type", /unknown task type "make-coffee"; known types:/],
  },
  {
    name: "no input",
    request: { body: { type: "code-review" } },
    status: 400,
    error: /invalid task/,
    detail: ["input", /required: the task's input, a JSON object/],
  },
  {
    name: "input is a string",
    request: { body: task({ input: "look" }) },
    status: 400,
    error: /invalid task/,
    detail: ["input", /must be a JSON object/],
  },
  {
    name: "input is an array",
    request: { body: task({ input: ["look"] }) },
    status: 400,
    error: /invalid task/,
    detail: ["input", /must be a JSON object/],
  },
  {
    name: "input is null",
    request: { body: task({ input: null }) },
    status: 400,
    error: /invalid task/,
    detail: ["input", /must be a JSON object/],
  },
  {
    name: "input.prompt is a number",
    request: { body: task({ input: { prompt: 5 } }) },
    status: 400,
    error: /invalid task/,
    detail: ["input.prompt", /must be a string.*got a number/],
  },
  {
    name: "input.prompt is an object",
    request: { body: task({ input: { prompt: { text: "x" } } }) },
    status: 400,
    error: /invalid task/,
    detail: ["input.prompt", /must be a string.*got an object/],
  },
  {
    name: "input.prompt is null",
    request: { body: task({ input: { prompt: null } }) },
    status: 400,
    error: /invalid task/,
    detail: ["input.prompt", /must be a string.*got null/],
  },
  {
    name: "input.prompt is blank",
    request: { body: task({ input: { prompt: "  " } }) },
    status: 400,
    error: /invalid task/,
    detail: ["input.prompt", /must not be empty/],
  },
  {
    name: "unknown field",
    request: { body: task({ colour: "red" }) },
    status: 400,
    error: /invalid task/,
    detail: ["(body)", /colour/],
  },
  {
    name: "priority by unknown name",
    request: { body: task({ priority: "urgent" }) },
    status: 400,
    error: /invalid task/,
    detail: ["priority", /must be 0-3, P0-P3 or one of critical, high, normal, low \(got "urgent"\)/],
  },
  {
    name: "priority out of range",
    request: { body: task({ priority: 7 }) },
    status: 400,
    error: /invalid task/,
    detail: ["priority", /^must be 0-3, P0-P3 or one of critical, high, normal, low \(got 7\)$/],
  },
  {
    name: "priority not an integer",
    request: { body: task({ priority: 1.5 }) },
    status: 400,
    error: /invalid task/,
    detail: ["priority", /^must be 0-3, .* \(got 1\.5\)$/],
  },
  {
    name: "priority is a boolean",
    request: { body: task({ priority: true }) },
    status: 400,
    error: /invalid task/,
    detail: ["priority", /^must be 0-3, .* \(got a boolean\)$/],
  },
  {
    name: "id with a path",
    request: { body: task({ id: "../etc/passwd" }) },
    status: 400,
    error: /invalid task/,
    detail: ["id", /letters, digits/],
  },
  {
    name: "id too long",
    request: { body: task({ id: "a".repeat(129) }) },
    status: 400,
    error: /invalid task/,
    detail: ["id", /1-128 characters/],
  },
  {
    name: "maxDeliveries 0",
    request: { body: task({ maxDeliveries: 0 }) },
    status: 400,
    error: /invalid task/,
    detail: ["maxDeliveries", /1/],
  },
  {
    name: "timeoutMs is a string",
    request: { body: task({ timeoutMs: "soon" }) },
    status: 400,
    error: /invalid task/,
    detail: ["timeoutMs", /number/],
  },
  {
    name: "id and idempotencyKey differ",
    request: { body: task({ id: "a1", idempotencyKey: "b2" }) },
    status: 400,
    error: /invalid task/,
    detail: ["idempotencyKey", /differ/],
  },
  {
    name: "Idempotency-Key header differs from the body",
    request: { headers: { "idempotency-key": "h1" }, body: task({ idempotencyKey: "b2" }) },
    status: 400,
    error: /invalid task/,
    detail: ["idempotencyKey", /differs from the Idempotency-Key header/],
  },
  {
    name: "bad Idempotency-Key header",
    request: { headers: { "idempotency-key": "no spaces please" }, body: task() },
    status: 400,
    error: /invalid task/,
    detail: ["idempotencyKey", /letters, digits/],
  },
  // size and shape limits
  {
    name: "body over the limit (Content-Length)",
    request: { body: task({ input: { prompt: "x".repeat(LIMIT) } }) },
    status: 413,
    error: new RegExp(`larger than the ${LIMIT}-byte limit`),
  },
  {
    name: "body over the limit (chunked)",
    request: {
      headers: { "transfer-encoding": "chunked" },
      body: task({ input: { prompt: "x".repeat(LIMIT) } }),
    },
    status: 413,
    error: /larger than the/,
  },
  {
    name: "nesting one level too deep",
    request: { raw: nested(MAX_JSON_DEPTH + 1) },
    status: 400,
    error: new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`),
  },
  {
    name: "nesting 20000 levels deep",
    request: { raw: nested(20_000) },
    status: 400,
    error: new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`),
  },
  {
    name: "deep nesting in broken JSON",
    request: { raw: "[".repeat(30_000) },
    status: 400,
    error: /nested deeper than/,
  },
  // text encoding
  {
    name: "lone high surrogate escape",
    request: { raw: '{"type": "code-review", "input": {"prompt": "a\\ud800b"}}' },
    status: 400,
    error: /lone UTF-16 surrogate \\ud800 at input\.prompt/,
    detail: ["input.prompt", /valid Unicode/],
  },
  {
    name: "lone low surrogate in a key",
    request: { raw: '{"type": "code-review", "input": {"prompt": "x", "\\udc00": 1}}' },
    status: 400,
    error: /lone UTF-16 surrogate \\udc00 at input/,
  },
  {
    name: "reversed surrogate pair",
    request: { raw: '{"type": "code-review", "input": {"prompt": "\\ude00\\ud83d"}}' },
    status: 400,
    error: /lone UTF-16 surrogate \\ude00 at input\.prompt/,
  },
  {
    name: "invalid UTF-8 byte",
    request: {
      raw: Buffer.concat([
        Buffer.from('{"type": "code-review", "input": {"prompt": "caf'),
        Buffer.from([0xe9]),
        Buffer.from('"}}'),
      ]),
    },
    status: 400,
    error: /not valid UTF-8: byte 0xe9 at offset 48; send the JSON encoded as UTF-8/,
  },
  {
    name: "truncated UTF-8 sequence at the end",
    request: {
      raw: Buffer.concat([
        Buffer.from('{"type": "code-review", "input": {"prompt": "x"}} '),
        Buffer.from([0xe2, 0x82]),
      ]),
    },
    status: 400,
    error: /not valid UTF-8: byte 0xe2 at offset 50/,
  },
  {
    name: "UTF-8 encoded surrogate (CESU)",
    request: {
      raw: Buffer.concat([
        Buffer.from('{"type": "code-review", "input": {"prompt": "'),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from('"}}'),
      ]),
    },
    status: 400,
    error: /not valid UTF-8: byte 0xed at offset 45/,
  },
  // auth
  {
    name: "no Authorization",
    request: { headers: { authorization: null }, body: task() },
    status: 401,
    error: /missing Authorization: Bearer <token>/,
  },
  {
    name: "wrong token",
    request: { headers: { authorization: "Bearer wrong-token-0123456789" }, body: task() },
    status: 401,
    error: /the bearer token is not valid/,
  },
  {
    name: "Basic auth",
    request: { headers: { authorization: `Basic ${TOKEN}` }, body: task() },
    status: 401,
    error: /the bearer token is not valid/,
  },
  {
    name: "no token on GET /v1/queues",
    request: { method: "GET", path: "/v1/queues", headers: { authorization: null } },
    status: 401,
    error: /missing Authorization/,
  },
  // HTTP framing
  {
    name: "huge header",
    request: { headers: { cookie: "c=" + "x".repeat(20_000) }, body: task() },
    status: 431,
    error: /request headers are larger than the \d+-byte limit/,
  },
  {
    name: "huge header on a probe",
    request: { method: "GET", path: "/healthz", headers: { "x-padding": "x".repeat(20_000) } },
    status: 431,
    error: /request headers are larger than/,
  },
  {
    name: "garbage request line",
    request: { rawSocket: "HELLO THERE\r\n\r\n" },
    status: 400,
    error: /malformed HTTP request/,
  },
  {
    name: "bad Content-Length",
    request: { rawSocket: "POST /v1/tasks HTTP/1.1\r\nhost: x\r\ncontent-length: lots\r\n\r\n" },
    status: 400,
    error: /malformed HTTP request/,
  },
];

describe("malformed requests", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const logsBefore = logLines.length;
    const keysBefore = await keysUnder(router.queue.redis, prefix);
    const reply = "rawSocket" in c.request ? await sendRaw(c.request.rawSocket) : await send(c.request);
    expect(reply.status, reply.text).toBe(c.status);
    expect(reply.headers["content-type"]).toBe("application/json; charset=utf-8");
    const body = JSON.parse(reply.text) as { error: string; details?: unknown };
    expect(body.error).toMatch(c.error);
    if (c.detail) {
      const [path, message] = c.detail;
      const details = body.details as { path: string; message: string }[];
      const found = details.find((d) => d.path === path);
      expect(found, JSON.stringify(details)).toBeDefined();
      expect(found!.message).toMatch(message);
    }
    expect(await keysUnder(router.queue.redis, prefix), "nothing enqueued").toEqual(keysBefore);
    const logged = logLines.slice(logsBefore).join("");
    expect(logged).not.toMatch(/"stack"|"level":50|internal error/);
  });

  it("covers at least 40 malformed requests, and none of them reached Redis", async () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(await keysUnder(router.queue.redis, prefix)).toEqual([]);
  });
});

describe("still accepted", () => {
  it("takes nesting at the limit, surrogate pairs, a UTF-8 charset and non-ASCII text", async () => {
    const accepted: Request[] = [
      { raw: nested(MAX_JSON_DEPTH) },
      { raw: '{"type": "code-review", "input": {"prompt": "smile \\ud83d\\ude00"}}' },
      { headers: { "content-type": 'application/json; charset="UTF-8"' }, body: task() },
      {
        headers: { "content-type": "application/json;charset=utf8" },
        body: task({ input: { prompt: "café ☕ 😀" } }),
      },
      { body: task({ input: { prompt: "brackets in strings: [[[[{{{{", nested: { a: [1, [2, [3]]] } } }) },
    ];
    for (const request of accepted) {
      const reply = await send(request);
      expect(reply.status, reply.text).toBe(202);
    }
    const id = (
      JSON.parse((await send({ body: task({ input: { prompt: "café ☕ 😀" } }) })).text) as { id: string }
    ).id;
    const view = JSON.parse((await send({ method: "GET", path: `/v1/tasks/${id}` })).text) as {
      input: { prompt: string };
    };
    expect(view.input.prompt).toBe("café ☕ 😀");
  });
});
