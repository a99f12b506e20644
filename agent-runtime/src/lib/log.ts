/**
 * Structured JSON logs (one line per event) with pino. Child loggers carry the fields every
 * runtime line should have: `agent`, `worker`, and `taskId` for task events.
 *
 *   const log = createLogger({ agent: "python", worker: "python-7f3a" });
 *   log.child({ taskId }).warn({ ...errorFields(error) }, "task failed; retrying");
 */
import pino, { type Logger, type LevelWithSilent } from "pino";
import { DEFAULT_LOG_LEVEL, RUNTIME_ENV } from "../contract";

export type { Logger } from "pino";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function createLogger(bindings: Record<string, unknown> = {}, level?: string): Logger {
  const chosen = level ?? process.env[RUNTIME_ENV.LOG_LEVEL] ?? DEFAULT_LOG_LEVEL;
  return pino({
    level: (LOG_LEVELS as readonly string[]).includes(chosen)
      ? (chosen as LevelWithSilent)
      : DEFAULT_LOG_LEVEL,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** The process-wide logger (LOG_LEVEL, default info). */
export const logger: Logger = createLogger();

/** One readable message from anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** Log fields for anything thrown: `{ err: { type, message, stack } }`. */
export function errorFields(error: unknown): { err: { type: string; message: string; stack?: string } } {
  if (error instanceof Error) {
    return {
      err: {
        type: error.name,
        message: errorMessage(error),
        ...(error.stack === undefined ? {} : { stack: error.stack }),
      },
    };
  }
  return { err: { type: typeof error, message: errorMessage(error) } };
}
