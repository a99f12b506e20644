/**
 * How a task's free-form input becomes the user message: a string is used as-is, an object
 * with a string `prompt` uses that prompt (any other fields follow as JSON context), anything
 * else is shown as JSON. The task type leads, because one agent serves several task types
 * with one system prompt.
 */
import { ExecutorError } from "./errors";
import type { ExecutionTask } from "./types";

export function userMessageOf(task: ExecutionTask): string {
  return `Task type: ${task.type}\n\n${bodyOf(task)}`;
}

function bodyOf(task: ExecutionTask): string {
  const { input } = task;
  if (typeof input === "string") return requireText(input, task);
  if (typeof input === "object" && input !== null && !Array.isArray(input) && "prompt" in input) {
    const { prompt, ...context } = input as Record<string, unknown>;
    if (typeof prompt !== "string") {
      throw new ExecutorError(`task ${task.id}: input.prompt must be a string, got ${typeof prompt}`, {
        kind: "bad_input",
        retryable: false,
      });
    }
    const text = requireText(prompt, task);
    return Object.keys(context).length === 0 ? text : `${text}\n\nContext:\n${json(context)}`;
  }
  if (input === undefined || input === null) {
    throw new ExecutorError(`task ${task.id}: input is empty; give a string or {"prompt": "..."}`, {
      kind: "bad_input",
      retryable: false,
    });
  }
  return `Input:\n${json(input)}`;
}

function requireText(text: string, task: ExecutionTask): string {
  if (text.trim() === "") {
    throw new ExecutorError(`task ${task.id}: the prompt is empty`, { kind: "bad_input", retryable: false });
  }
  return text;
}

function json(value: unknown): string {
  return "```json\n" + JSON.stringify(value, null, 2) + "\n```";
}
