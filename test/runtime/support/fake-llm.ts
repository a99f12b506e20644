/**
 * A local OpenAI-compatible chat server for tests: answers every POST …/chat/completions with a
 * fixed reply and records what it received (headers included, e.g. an injected traceparent). A
 * prompt containing FAIL_HARD gets a 400 (the task fails for good), one containing FAIL_SOFT a 503
 * (retried, then dead-lettered once its deliveries run out).
 *
 *   const llm = await startFakeLlm();   // llm.baseUrl = http://127.0.0.1:<port>/v1
 *   ... llm.requests[0].headers.traceparent ...
 *   await llm.stop();
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";

export const FAIL_HARD = "[fail-hard]";
export const FAIL_SOFT = "[fail-soft]";

export interface FakeLlmRequest {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface FakeLlm {
  /** The OpenAI base URL to give LLM_BASE_URL (…/v1). */
  baseUrl: string;
  requests: FakeLlmRequest[];
  stop(): Promise<void>;
}

export async function startFakeLlm(answer = "LGTM", model = "fake-llm"): Promise<FakeLlm> {
  const requests: FakeLlmRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      requests.push({
        url: req.url ?? "",
        headers: req.headers,
        body: text ? (JSON.parse(text) as unknown) : undefined,
      });
      if (text.includes(FAIL_HARD) || text.includes(FAIL_SOFT)) {
        const hard = text.includes(FAIL_HARD);
        res.writeHead(hard ? 400 : 503, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            error: { message: hard ? "the fake refuses this prompt" : "the fake is overloaded" },
          }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          model,
          choices: [{ message: { role: "assistant", content: answer }, finish_reason: "stop" }],
          usage: { prompt_tokens: 12, completion_tokens: 1 },
        }),
      );
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
