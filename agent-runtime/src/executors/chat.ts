/**
 * The part the OpenAI and Anthropic clients share: build the prompt, POST with timeout and
 * retries, validate the answer with the dialect's zod schema, count tokens and inference time.
 * A dialect only knows its URL, headers, request body and response shape.
 */
import type { z } from "zod";
import type { ExecutorKind } from "../contract";
import { SEMCONV, taskAttributes, tracingActive } from "../lib/tracing";
import type { ExecutorSettings } from "./config";
import { ExecutorError } from "./errors";
import { postJson } from "./http";
import { userMessageOf } from "./prompt";
import type { ExecutionResult, ExecutionTask, Executor, ExecutorObserver, TokenUsage } from "./types";

export interface ChatRequest {
  model: string;
  system: string;
  user: string;
  temperature: number;
  maxTokens: number;
}

export interface ChatAnswer {
  text: string;
  model: string | undefined;
  usage: TokenUsage;
  finishReason: string | null;
}

export interface ChatDialect<Schema extends z.ZodType> {
  kind: Exclude<ExecutorKind, "echo">;
  url(baseUrl: string): string;
  headers(apiKey: string | undefined): Record<string, string>;
  body(request: ChatRequest): unknown;
  response: Schema;
  answer(parsed: z.infer<Schema>): ChatAnswer;
}

export class ChatExecutor<Schema extends z.ZodType> implements Executor {
  readonly kind: ExecutorKind;
  readonly model: string;
  private readonly url: string;

  constructor(
    private readonly dialect: ChatDialect<Schema>,
    private readonly settings: ExecutorSettings,
    private readonly observer: ExecutorObserver,
  ) {
    this.kind = dialect.kind;
    this.model = settings.model;
    this.url = dialect.url(settings.baseUrl);
  }

  async execute(task: ExecutionTask, signal?: AbortSignal): Promise<ExecutionResult> {
    const { settings, dialect, observer, model } = this;
    const body = dialect.body({
      model,
      system: settings.systemPrompt,
      user: userMessageOf(task),
      temperature: settings.temperature,
      maxTokens: settings.maxTokens,
    });
    let response;
    try {
      response = await postJson({
        url: this.url,
        headers: dialect.headers(settings.apiKey),
        body,
        timeoutMs: settings.timeoutMs,
        retry: settings.retry,
        ...(signal ? { signal } : {}),
        onRetry: (event) => observer.retry(model, event.reason),
        ...(tracingActive()
          ? {
              traceAttributes: {
                ...taskAttributes(task),
                [SEMCONV.GEN_AI_PROVIDER_NAME]: dialect.kind,
                [SEMCONV.GEN_AI_REQUEST_MODEL]: model,
              },
            }
          : {}),
      });
    } catch (error) {
      observer.request(model, error instanceof ExecutorError ? error.kind : "error");
      throw error;
    }
    const parsed = dialect.response.safeParse(response.json);
    if (!parsed.success) {
      observer.request(model, "malformed_response");
      const where = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
        .join("; ");
      throw new ExecutorError(
        `${this.url} answered ${response.status} but not as the ${dialect.kind} API: ${where}`,
        {
          kind: "malformed_response",
          retryable: true,
          status: response.status,
          attempts: response.attempts,
        },
      );
    }
    const answer = dialect.answer(parsed.data);
    observer.request(model, "ok");
    observer.inference(model, response.seconds);
    observer.tokens(model, answer.usage);
    return {
      output: answer.text,
      executor: dialect.kind,
      model: answer.model ?? model,
      usage: answer.usage,
      finishReason: answer.finishReason,
    };
  }
}
