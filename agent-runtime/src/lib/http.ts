/**
 * A tiny node:http server for every runtime process: /healthz (liveness), /readyz (readiness
 * from a callback; 503 once draining), /metrics (the prom-client registry), plus routes that
 * other modules register (the router's /v1/*, the agent's /v1/execute).
 *
 *   const http = createHttpServer({ port: 8080, registry: metrics.registry, ready: () => worker.ready });
 *   http.route("POST", /^\/v1\/execute$/, async (req, res) => {   // helpers from ./json
 *     const body = await readJsonBody(req, http.maxBodyBytes);   // 413 / 415 / 400 as HttpError
 *     sendJson(res, 200, { ok: true });
 *   });
 *   await http.listen();  ...  await http.close();
 *
 * A handler that throws HttpError answers with its status and `{error, details}`; anything else
 * is a logged 500. The JSON helpers (readJsonBody, sendJson, HttpError, ...) live in ./json.
 */
import {
  createServer,
  maxHeaderSize,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Registry } from "prom-client";
import { HttpError, sendError, sendJson } from "./json";
import { errorFields, logger as defaultLogger, type Logger } from "./log";
import {
  context,
  contextFrom,
  SEMCONV,
  SpanKind,
  SpanStatusCode,
  trace,
  tracer,
  tracingActive,
} from "./tracing";

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: string[],
) => Promise<void> | void;

export interface HttpServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
  registry: Registry;
  /** Readiness: true when this process should receive work. Default: always ready. */
  ready?: () => boolean | Promise<boolean>;
  /** Body limit for handlers that read JSON (default 1 MiB). */
  maxBodyBytes?: number;
  logger?: Logger;
}

export interface RouteOptions {
  /** A server span per request when tracing is on. */
  traced?: boolean;
}

interface Route {
  method: string;
  pattern: RegExp;
  handler: RouteHandler;
}

export class HttpServer {
  readonly maxBodyBytes: number;
  private readonly server: Server;
  private readonly routes: Route[] = [];
  private readonly log: Logger;
  private draining = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: HttpServerOptions) {
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.log = options.logger ?? defaultLogger;
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 65_000; // longer than common load-balancer idle timeouts
    this.server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) =>
      this.answerClientError(error, socket),
    );
    this.route("GET", "/healthz", (_req, res) => sendJson(res, 200, { status: "ok" }));
    this.route("GET", "/readyz", async (_req, res) => {
      const ready = !this.draining && (await (this.options.ready?.() ?? true));
      sendJson(res, ready ? 200 : 503, {
        status: ready ? "ready" : this.draining ? "draining" : "not ready",
      });
    });
    this.route("GET", "/metrics", async (_req, res) => {
      const body = await this.options.registry.metrics();
      res.writeHead(200, { "content-type": this.options.registry.contentType });
      res.end(body);
    });
  }

  /**
   * Adds a route; a string pattern matches the path exactly, a RegExp's groups become params.
   * `traced` (string patterns): with tracing on, each request gets a server span "<METHOD> <path>"
   * that continues an incoming traceparent header, and the handler runs in its context.
   */
  route(method: string, pattern: string | RegExp, handler: RouteHandler, options: RouteOptions = {}): this {
    const regex =
      typeof pattern === "string"
        ? new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`)
        : pattern;
    const upper = method.toUpperCase();
    if (options.traced && typeof pattern !== "string") {
      throw new TypeError(`route ${upper} ${String(pattern)}: only a string route can be traced`);
    }
    this.routes.push({
      method: upper,
      pattern: regex,
      handler: options.traced ? tracedHandler(upper, String(pattern), handler) : handler,
    });
    return this;
  }

  /** /readyz answers 503 from now on (SIGTERM: let the endpoints drop this pod first). */
  setDraining(): void {
    this.draining = true;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port, this.options.host ?? "0.0.0.0", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    return this.port;
  }

  get port(): number {
    const address = this.server.address() as AddressInfo | null;
    return address?.port ?? 0;
  }

  /** Stops accepting connections and closes idle ones. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
    return this.closing;
  }

  /**
   * Requests node:http cannot parse (oversized headers, a broken request line) never reach a
   * route; Node would answer them with an empty 400/431. They get the same JSON error body.
   */
  private answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, message] =
      error.code === "HPE_HEADER_OVERFLOW"
        ? [431, `request headers are larger than the ${maxHeaderSize}-byte limit; send smaller headers`]
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "the request headers did not arrive in time"]
          : [400, `malformed HTTP request (${error.code ?? "unparsable"}); send HTTP/1.1`];
    this.log.debug({ code: error.code, status }, "unparsable request refused");
    const payload = JSON.stringify({ error: message });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
        "content-type: application/json; charset=utf-8\r\n" +
        `content-length: ${Buffer.byteLength(payload)}\r\n` +
        "cache-control: no-store\r\nconnection: close\r\n\r\n" +
        payload,
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const method = (req.method ?? "GET").toUpperCase();
    let pathMatched = false;
    try {
      for (const route of this.routes) {
        const match = route.pattern.exec(path);
        if (!match) continue;
        pathMatched = true;
        if (route.method !== method && !(route.method === "GET" && method === "HEAD")) continue;
        await route.handler(req, res, match.slice(1));
        return;
      }
      if (pathMatched) throw new HttpError(405, `method ${method} is not allowed on ${path}`);
      throw new HttpError(404, `no route for ${method} ${path}`);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        sendError(res, error);
        return;
      }
      this.log.error({ ...errorFields(error), method, path }, "request failed");
      sendJson(res, 500, { error: "internal error; see the server log" });
    }
  }
}

export function createHttpServer(options: HttpServerOptions): HttpServer {
  return new HttpServer(options);
}

/**
 * Runs `handler` under a server span (HTTP server semantic conventions) that continues the
 * request's traceparent; the span ends when the response closes, with its status code (a 5xx,
 * or a connection closed before the answer, marks it failed).
 */
function tracedHandler(method: string, route: string, handler: RouteHandler): RouteHandler {
  return (req, res, params) => {
    if (!tracingActive()) return handler(req, res, params);
    const parent = contextFrom(req.headers);
    const span = tracer().startSpan(
      `${method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [SEMCONV.HTTP_REQUEST_METHOD]: method,
          [SEMCONV.HTTP_ROUTE]: route,
          [SEMCONV.URL_PATH]: route,
        },
      },
      parent,
    );
    res.once("close", () => {
      span.setAttribute(SEMCONV.HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (!res.writableFinished) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: "connection closed before the response" });
        span.setAttribute(SEMCONV.ERROR_TYPE, "aborted");
      } else if (res.statusCode >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute(SEMCONV.ERROR_TYPE, String(res.statusCode));
      }
      span.end();
    });
    return context.with(trace.setSpan(parent, span), () => handler(req, res, params));
  };
}
