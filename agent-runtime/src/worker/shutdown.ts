/**
 * SIGTERM/SIGINT handling for a runtime process: the first signal starts a graceful shutdown
 * (drain), a second one forces it (release in-flight leases now). Both end the process.
 *
 *   handleShutdownSignals({
 *     graceful: async () => { http.setDraining(); await worker.drain(env.DRAIN_TIMEOUT_SECONDS * 1000); await worker.close(); },
 *     force: () => worker.forceStop(),
 *   });
 */
import { errorFields, logger as defaultLogger, type Logger } from "../lib/log";

/**
 * bin/agent-fleet.js catches SIGTERM/SIGINT from its first line for the long-running commands and
 * keeps them here, because loading the code and connecting take a while and a signal in that
 * window would otherwise kill the process with the default action (a worker that had already
 * claimed a task would leave it leased until its lease expired).
 */
const EARLY_SIGNALS = Symbol.for("agent-fleet.early-signals");

interface EarlySignals {
  received: NodeJS.Signals[];
  listener: (signal: NodeJS.Signals) => void;
}

function isEarlySignals(value: unknown): value is EarlySignals {
  return (
    typeof value === "object" &&
    value !== null &&
    Array.isArray((value as Partial<EarlySignals>).received) &&
    typeof (value as Partial<EarlySignals>).listener === "function"
  );
}

/** Stops the early capture (if any) and returns the signals it caught, in order. */
export function takeEarlySignals(): NodeJS.Signals[] {
  const early: unknown = Reflect.get(globalThis, EARLY_SIGNALS);
  if (!isEarlySignals(early)) return [];
  Reflect.deleteProperty(globalThis, EARLY_SIGNALS);
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.off(signal, early.listener);
  return early.received;
}

export interface ShutdownHandlers {
  graceful: () => Promise<unknown>;
  force: () => Promise<unknown>;
  logger?: Logger;
  signals?: NodeJS.Signals[];
  /** Ends the process (default process.exit). */
  exit?: (code: number) => void;
}

/** Installs the handlers; returns a function that removes them. */
export function handleShutdownSignals(handlers: ShutdownHandlers): () => void {
  const log = handlers.logger ?? defaultLogger;
  const exit = handlers.exit ?? ((code: number) => process.exit(code));
  const signals = handlers.signals ?? ["SIGTERM", "SIGINT"];
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    if (received === 1) {
      log.info({ signal }, "shutting down gracefully; send the signal again to force");
      handlers.graceful().then(
        () => {
          if (received === 1) exit(0); // once forced, the forced path decides the exit
        },
        (error: unknown) => {
          log.error(errorFields(error), "graceful shutdown failed");
          if (received === 1) exit(1);
        },
      );
      return;
    }
    if (received === 2) {
      log.warn({ signal }, "second signal: forcing shutdown (in-flight tasks go back to the queue)");
      const timer = setTimeout(() => exit(1), 5_000);
      timer.unref();
      handlers.force().then(
        () => exit(1),
        (error: unknown) => {
          log.error(errorFields(error), "forced shutdown failed");
          exit(1);
        },
      );
    }
  };
  for (const signal of signals) process.on(signal, onSignal);
  for (const signal of takeEarlySignals()) if (signals.includes(signal)) onSignal(signal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
