/** The local-run executor: no model, answers with the prompt an LLM would have received. */
import { setTimeout as sleep } from "node:timers/promises";
import type { ExecutorSettings } from "./config";
import { ExecutorError } from "./errors";
import { userMessageOf } from "./prompt";
import type { ExecutionResult, ExecutionTask, Executor, ExecutorObserver } from "./types";

export class EchoExecutor implements Executor {
  readonly kind = "echo" as const;
  readonly model = "echo";

  constructor(
    private readonly settings: Pick<ExecutorSettings, "echoDelayMs">,
    private readonly observer: ExecutorObserver,
  ) {}

  async execute(task: ExecutionTask, signal?: AbortSignal): Promise<ExecutionResult> {
    const output = userMessageOf(task);
    const started = performance.now();
    if (this.settings.echoDelayMs > 0) {
      try {
        await sleep(this.settings.echoDelayMs, undefined, signal ? { signal } : undefined);
      } catch (error) {
        throw new ExecutorError(`task ${task.id}: echo aborted by the caller`, {
          kind: "aborted",
          retryable: true,
          cause: error,
        });
      }
    }
    this.observer.request(this.model, "ok");
    this.observer.inference(this.model, (performance.now() - started) / 1000);
    return {
      output,
      executor: "echo",
      model: this.model,
      usage: { inputTokens: 0, outputTokens: 0 },
      finishReason: "stop",
    };
  }
}
