/**
 * The one place queue keys are built. Every key of an agent carries the Redis Cluster hash tag
 * `{<agent>}`, so one agent's keys live in one slot and its scripts stay atomic on a cluster:
 *
 *   fleet:{python}:ready     zset  task id → priority × 2^50 + seq
 *   fleet:{python}:leases    zset  "<id>|<token>" → lease deadline (ms)
 *   fleet:{python}:delayed   zset  task id → retry due time (ms)
 *   fleet:{python}:dead      zset  task id → dead-lettered at (ms)
 *   fleet:{python}:marker    zset  single member "w": the wake-up marker workers block on
 *   fleet:{python}:seq       string  FIFO sequence counter
 *   fleet:{python}:task:<id> hash  payload, status, deliveries, result, error, ...
 *   fleet:{python}:claim:<t> string  the ids one claiming call leased (token prefix <t>), for a
 *                                    lease length: a resent call replays its claim from it
 */
import type { AgentType } from "../catalog";
import { DEFAULT_QUEUE_PREFIX } from "../contract";

/** A prefix must not contain a hash tag of its own, or it would override the agent's. */
export const QUEUE_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export interface QueueKeys {
  agent: AgentType;
  ready: string;
  leases: string;
  delayed: string;
  dead: string;
  marker: string;
  seq: string;
  /** Prefix of the task hashes: `taskPrefix + id`. */
  taskPrefix: string;
  /** Prefix of the claim records: `claimPrefix + tokenPrefix`. */
  claimPrefix: string;
  task(id: string): string;
  /** KEYS of every lifecycle script, in the order includes/common.lua documents. */
  lifecycle: readonly string[];
}

export function queueKeys(agent: AgentType, prefix: string = DEFAULT_QUEUE_PREFIX): QueueKeys {
  if (!QUEUE_PREFIX_PATTERN.test(prefix)) {
    throw new Error(
      `queue prefix "${prefix}" must be 1-64 characters of letters, digits, '.', '_', ':' or '-' (no braces)`,
    );
  }
  const base = `${prefix}:{${agent}}:`;
  const keys = {
    agent,
    ready: `${base}ready`,
    leases: `${base}leases`,
    delayed: `${base}delayed`,
    dead: `${base}dead`,
    marker: `${base}marker`,
    seq: `${base}seq`,
    taskPrefix: `${base}task:`,
    claimPrefix: `${base}claim:`,
    task: (id: string) => `${base}task:${id}`,
  };
  return {
    ...keys,
    lifecycle: [
      keys.ready,
      keys.leases,
      keys.delayed,
      keys.dead,
      keys.marker,
      keys.taskPrefix,
      keys.seq,
      keys.claimPrefix,
    ],
  };
}
