/** Build the executor an agent's settings ask for. */
import { anthropicDialect } from "./anthropic";
import { ChatExecutor } from "./chat";
import type { ExecutorSettings } from "./config";
import { EchoExecutor } from "./echo";
import { openAIDialect } from "./openai";
import { NOOP_OBSERVER, type Executor, type ExecutorObserver } from "./types";

export function createExecutor(
  settings: ExecutorSettings,
  observer: ExecutorObserver = NOOP_OBSERVER,
): Executor {
  switch (settings.kind) {
    case "echo":
      return new EchoExecutor(settings, observer);
    case "openai":
      return new ChatExecutor(openAIDialect, settings, observer);
    case "anthropic":
      return new ChatExecutor(anthropicDialect, settings, observer);
  }
}

export { echoSettings, resolveExecutorSettings, type ExecutorSettings } from "./config";
export { ExecutorConfigError, ExecutorError } from "./errors";
export type { ExecutionResult, ExecutionTask, Executor, ExecutorObserver } from "./types";
