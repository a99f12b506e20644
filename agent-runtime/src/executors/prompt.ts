/**
 * How a task's free-form input becomes the user message: a string is used as-is, an object
 * with a string `prompt` uses that prompt (any other fields follow as JSON context), anything
 * else is shown as JSON. The task type leads, because one agent serves several task types
 * with one system prompt. ExecutorInputSchema states the same rule for the router and
 * /v1/execute, so a task they accept is one an executor can turn into a prompt.
 */
import { z } from "zod";
import { TaskInputSchema } from "../queue/schema";
import { ExecutorError } from "./errors";
import type { ExecutionTask } from "./types";

/** `input.prompt`, when present: the text the model reads. */
export const TaskPromptSchema = z
  .string({
    error: (issue) =>
      `must be a string: the text the model reads (got ${describeJson(issue.input)}); put structured data in other input fields`,
  })
  .refine((text) => text.trim() !== "", "must not be empty or blank: the text the model reads");

/** A task's input as executors read it: a JSON object whose `prompt`, if any, is non-blank text. */
export const ExecutorInputSchema = TaskInputSchema.superRefine((input, ctx) => {
  if (!("prompt" in input)) return;
  const prompt = TaskPromptSchema.safeParse(input.prompt);
  if (prompt.success) return;
  for (const issue of prompt.error.issues) {
    ctx.addIssue({ code: "custom", message: issue.message, path: ["prompt"] });
  }
});

/** "a number", "null", "an array": what a JSON value is, for messages. */
export function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return type === "object" ? "an object" : `a ${type}`;
}

export function userMessageOf(task: ExecutionTask): string {
  return `Task type: ${task.type}\n\n${bodyOf(task)}`;
}

function bodyOf(task: ExecutionTask): string {
  const { input } = task;
  if (typeof input === "string") return requireText(input, task);
  if (typeof input === "object" && input !== null && !Array.isArray(input) && "prompt" in input) {
    const { prompt, ...context } = input as Record<string, unknown>;
    const checked = TaskPromptSchema.safeParse(prompt);
    if (!checked.success) {
      throw new ExecutorError(`task ${task.id}: input.prompt ${checked.error.issues[0]!.message}`, {
        kind: "bad_input",
        retryable: false,
      });
    }
    const text = checked.data;
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
