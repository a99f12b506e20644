/** LLM API providers and where their keys live: one place for AgentFleet, SecretsBackend and the program. */
export type ApiProvider = "openai" | "anthropic";

/** The env var the runtime reads each provider's key from, and the key in the `llm-api-keys` Secret. */
export const API_KEY_ENV: Record<ApiProvider, string> = {
  openai: "OPENAI_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
};
