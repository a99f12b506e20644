/** Anthropic Messages API (POST {base}/v1/messages). */
import { z } from "zod";
import type { ChatDialect } from "./chat";

export const ANTHROPIC_VERSION = "2023-06-01";

const tokens = z.int().nonnegative();

export const AnthropicMessageSchema = z.object({
  type: z.literal("message").optional(),
  model: z.string().optional(),
  content: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })),
  stop_reason: z.string().nullable().optional(),
  usage: z.object({ input_tokens: tokens, output_tokens: tokens }),
});

export const anthropicDialect: ChatDialect<typeof AnthropicMessageSchema> = {
  kind: "anthropic",
  url: (baseUrl) => `${baseUrl}/v1/messages`,
  headers: (apiKey): Record<string, string> => ({
    "anthropic-version": ANTHROPIC_VERSION,
    ...(apiKey ? { "x-api-key": apiKey } : {}),
  }),
  body: (request) => ({
    model: request.model,
    system: request.system,
    messages: [{ role: "user", content: request.user }],
    temperature: request.temperature,
    max_tokens: request.maxTokens,
  }),
  response: AnthropicMessageSchema,
  answer: (parsed) => ({
    text: parsed.content
      .filter((block) => block.type === "text")
      .map((block) => block.text ?? "")
      .join(""),
    model: parsed.model,
    usage: { inputTokens: parsed.usage.input_tokens, outputTokens: parsed.usage.output_tokens },
    finishReason: parsed.stop_reason ?? null,
  }),
};
