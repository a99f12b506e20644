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
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
