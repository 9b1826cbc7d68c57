// Billable operations, reported where they happen. A deployed Worker installs no meter, so reporting is a
// no-op there; local development (src/dev.ts) installs one, and `npm run bench` prices what it counted
// ("cost per million vends"). Locally the Worker and its Durable Objects share one isolate, so one meter
// sees both.

/** What Cloudflare bills per operation (docs/cloudflare-upstream.md#workers-platform). */
export const USAGE_KINDS = [
  "worker_requests",
  "kv_reads",
  "kv_writes",
  "kv_deletes",
  "kv_lists",
  /** Not priced: Cloudflare publishes no price for the Rate Limiting binding. */
  "rate_limit_calls",
  /** Each RPC method call on a stub and each alarm run. */
  "do_requests",
  "sql_rows_read",
  "sql_rows_written",
  /** Each setAlarm() is billed as one row written. */
  "do_alarms_set",
  /** Wall time some request kept a Durable Object active: billed as duration (GB-s). */
  "do_active_ms",
  /**
   * A level, not a count: rows stored now that a pruning alarm will delete later (each delete is billed
   * as a row written), so a benchmark can price work its vends leave for later.
   */
  "sql_rows_to_prune",
  /** A level: alarms set and not yet run (each run is billed as a request). */
  "do_alarms_pending",
] as const;

export type UsageKind = (typeof USAGE_KINDS)[number];
export type UsageCounts = Record<UsageKind, number>;

let meter: UsageCounts | undefined;

/** Counts `n` operations of one kind (or moves a level by `n`), if a meter is installed. */
export function reportUsage(kind: UsageKind, n = 1): void {
  if (meter && n !== 0) meter[kind] += n;
}

/** Installs the meter (once per isolate) and returns its live counts. */
export function installUsageMeter(): Readonly<UsageCounts> {
  meter ??= Object.fromEntries(USAGE_KINDS.map((k) => [k, 0])) as UsageCounts;
  return meter;
}
