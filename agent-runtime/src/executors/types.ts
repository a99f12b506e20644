/** What every executor takes and gives back; the worker and /v1/execute depend only on this. */
import type { AgentType } from "../catalog";
import type { ExecutorKind } from "../contract";

export interface ExecutionTask {
  id: string;
  /** The task type (e.g. "code-review"); agents serve several. */
  type: string;
  agent: AgentType;
  /** Queued tasks: 0 (highest) .. 3; the synchronous path has none. Only traces read it. */
  priority?: number;
  /** Free-form JSON from the submitter; see `userMessageOf` for how it becomes a prompt. */
  input: unknown;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ExecutionResult {
  /** The model's answer (for `echo`: the prompt it would have sent). */
  output: string;
  executor: ExecutorKind;
  /** The model the backend reports having used (may differ from the one asked for). */
  model: string;
  usage: TokenUsage;
  /** Why generation stopped ("stop", "length", "end_turn", ...), when the API says. */
  finishReason: string | null;
}

export interface Executor {
  readonly kind: ExecutorKind;
  /** The configured model name (metrics label). */
  readonly model: string;
  execute(task: ExecutionTask, signal?: AbortSignal): Promise<ExecutionResult>;
}

/** Hooks the executors call; `metrics.ts` binds them to Prometheus. */
export interface ExecutorObserver {
  inference(model: string, seconds: number): void;
  tokens(model: string, usage: TokenUsage): void;
  request(model: string, outcome: string): void;
  retry(model: string, reason: string): void;
}

export const NOOP_OBSERVER: ExecutorObserver = {
  inference: () => undefined,
  tokens: () => undefined,
  request: () => undefined,
  retry: () => undefined,
};
