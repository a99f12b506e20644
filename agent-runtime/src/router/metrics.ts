/**
 * The autoscaling gauges, read from Redis when Prometheus scrapes (their `collect` hooks), so an
 * idle router costs Redis nothing and a scrape never shows stale numbers. One scrape makes one
 * stats.v1 call per agent however many gauges ask. BACKLOG_METRIC is the HPA's External metric:
 * infra selects it by the name and the agent label the contract gives (contract.ts).
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { BACKLOG_AGENT_LABEL, BACKLOG_METRIC, RUNTIME_METRICS } from "../contract";
import type { AgentQueueStats } from "../queue/client";

export const DEPTH_METRIC = "agent_queue_depth";
/** Every queue gauge names its agent with the label the HPAs select the backlog by. */
type AgentLabel = typeof BACKLOG_AGENT_LABEL;
const PRIORITIES = ["P0", "P1", "P2", "P3"] as const;

export class QueueGauges {
  private readonly backlog: Gauge<AgentLabel>;
  private readonly ready: Gauge<AgentLabel | "priority">;
  private readonly oldest: Gauge<AgentLabel | "priority">;
  private readonly depth: Gauge<AgentLabel>;
  private readonly inFlight: Gauge<AgentLabel>;
  private readonly delayed: Gauge<AgentLabel>;
  private readonly dead: Gauge<AgentLabel>;
  private readonly redisUp: Gauge;
  private pending: Promise<AgentQueueStats[]> | undefined;

  /**
   * `fetch` reads every agent's statistics (TaskQueue.statsAll). A scrape while Redis is down
   * keeps the last values and reports the error to `onScrapeError`: failing the whole scrape
   * would also drop the process metrics, and the HPA holds its size on stale backlog anyway.
   * `agent_queue_redis_up` says which it is: 1 after a read that succeeded, 0 after one that failed.
   */
  constructor(
    registry: Registry,
    private readonly fetch: () => Promise<AgentQueueStats[]>,
    onScrapeError: (error: unknown) => void = () => undefined,
  ) {
    // Every gauge's hook runs on each scrape; they share one refresh and one error report.
    let scraping: Promise<void> | undefined;
    const collect = () =>
      (scraping ??= this.refresh()
        .then(() => undefined, onScrapeError)
        .finally(() => {
          scraping = undefined;
        }));
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers: [registry], collect });
    this.backlog = gauge(BACKLOG_METRIC, "Ready + in-flight tasks per agent: the HPA's scaling signal.", [
      BACKLOG_AGENT_LABEL,
    ]);
    this.ready = gauge(RUNTIME_METRICS.queueReady, "Ready tasks per agent and priority band (P0 highest).", [
      BACKLOG_AGENT_LABEL,
      "priority",
    ]);
    this.oldest = gauge(
      RUNTIME_METRICS.queueOldestAge,
      "Seconds the next ready task of an agent's priority band has waited (0 when the band has none ready).",
      [BACKLOG_AGENT_LABEL, "priority"],
    );
    this.inFlight = gauge("agent_queue_in_flight", "Tasks leased to a worker, per agent.", [
      BACKLOG_AGENT_LABEL,
    ]);
    this.delayed = gauge("agent_queue_delayed", "Tasks waiting out a retry backoff, per agent.", [
      BACKLOG_AGENT_LABEL,
    ]);
    this.dead = gauge(RUNTIME_METRICS.queueDead, "Tasks in the dead-letter set, per agent.", [
      BACKLOG_AGENT_LABEL,
    ]);
    this.redisUp = gauge(
      RUNTIME_METRICS.redisUp,
      "1 when the router's last read of queue statistics from Redis succeeded, 0 when it failed.",
      [],
    );
    // lib/metrics.ts defines agent_queue_depth; the router keeps it current. prom-client reads a
    // gauge's `collect` at scrape time, so hooking the existing gauge refreshes it like the others.
    const depth = registry.getSingleMetric(DEPTH_METRIC);
    if (depth instanceof Gauge) {
      const hooked = depth as Gauge<AgentLabel> & { collect?: () => Promise<void> };
      hooked.collect ??= collect;
      this.depth = hooked;
    } else {
      this.depth = gauge(DEPTH_METRIC, "Tasks waiting to run per agent (ready, all priorities).", [
        BACKLOG_AGENT_LABEL,
      ]);
    }
  }

  /** Fresh statistics for every agent (sharing a fetch already under way), written to the gauges. */
  refresh(): Promise<AgentQueueStats[]> {
    this.pending ??= this.fetch()
      .then(
        (stats) => {
          for (const s of stats) this.set(s);
          this.redisUp.set(1);
          return stats;
        },
        (error: unknown) => {
          this.redisUp.set(0);
          throw error;
        },
      )
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private set(s: AgentQueueStats): void {
    const agent_type = s.agent;
    const ready = PRIORITIES.reduce((sum, p) => sum + s.ready[p], 0);
    for (const priority of PRIORITIES) this.ready.set({ agent_type, priority }, s.ready[priority]);
    this.backlog.set({ agent_type }, ready + s.inFlight);
    this.depth.set({ agent_type }, ready);
    for (const priority of PRIORITIES)
      this.oldest.set({ agent_type, priority }, s.oldestReadyAgeByPriority[priority] ?? 0);
    this.inFlight.set({ agent_type }, s.inFlight);
    this.delayed.set({ agent_type }, s.delayed);
    this.dead.set({ agent_type }, s.dead);
  }
}

export type RouterResponseLabel = "method" | "route" | "code";

/**
 * The router's answers by method, route pattern (never the raw path: one series per pattern) and
 * status code; the 5xx alert reads it. One counter per registry, however many routers share it.
 */
export function routerResponseCounter(registry: Registry): Counter<RouterResponseLabel> {
  const existing = registry.getSingleMetric(RUNTIME_METRICS.routerResponses);
  if (existing instanceof Counter) return existing;
  return new Counter({
    name: RUNTIME_METRICS.routerResponses,
    help: "Answers of the router's /v1 API by method, route pattern and status code.",
    labelNames: ["method", "route", "code"] as const,
    registers: [registry],
  });
}
