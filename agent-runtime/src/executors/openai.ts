/**
 * OpenAI-compatible chat completions (POST {base}/chat/completions): hosted OpenAI, and the
 * local llama.cpp / vLLM sidecars that serve the shared model volume on 127.0.0.1.
 */
import { z } from "zod";
import type { ChatDialect } from "./chat";

const tokens = z.int().nonnegative();

export const OpenAIChatResponseSchema = z.object({
  model: z.string().optional(),
  choices: z
    .array(
      z.object({
        message: z.object({ role: z.string().optional(), content: z.string().nullable().optional() }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1, "expected at least one choice"),
  // Some local servers omit usage; count zero rather than fail the task.
  usage: z.object({ prompt_tokens: tokens.optional(), completion_tokens: tokens.optional() }).nullish(),
});

export const openAIDialect: ChatDialect<typeof OpenAIChatResponseSchema> = {
  kind: "openai",
  url: (baseUrl) => `${baseUrl}/chat/completions`,
  headers: (apiKey): Record<string, string> => (apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
  body: (request) => ({
    model: request.model,
    messages: [
      { role: "system", content: request.system },
      { role: "user", content: request.user },
    ],
    temperature: request.temperature,
    max_tokens: request.maxTokens,
    stream: false,
  }),
  response: OpenAIChatResponseSchema,
  answer: (parsed) => {
    const choice = parsed.choices[0]!;
    return {
      text: choice.message.content ?? "",
      model: parsed.model,
      usage: {
        inputTokens: parsed.usage?.prompt_tokens ?? 0,
        outputTokens: parsed.usage?.completion_tokens ?? 0,
      },
      finishReason: choice.finish_reason ?? null,
    };
  },
};
