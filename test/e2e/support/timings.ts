/**
 * Step timings for the suites that drive real parts (e2e lifecycle, node): each long step is timed
 * and the suite prints one table at the end, so a slow run shows where its time went.
 */
export class StepTimings {
  private readonly steps: [string, number][] = [];

  /** Runs `fn` and records how long it took under `step`, whether it passed or threw. */
  async timed<T>(step: string, fn: () => T | Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.record(step, performance.now() - start);
    }
  }

  /** Records a duration measured by the caller, in milliseconds. */
  record(step: string, ms: number): void {
    this.steps.push([step, ms]);
  }

  /** The table, one step per line in the order recorded, seconds to one decimal. */
  report(title: string): string {
    const width = Math.max(0, ...this.steps.map(([s]) => s.length));
    return [title, ...this.steps.map(([s, ms]) => `  ${s.padEnd(width)}  ${(ms / 1000).toFixed(1)} s`)].join(
      "\n",
    );
  }
}
