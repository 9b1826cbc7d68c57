// Load settings and targets for `npm run bench`. Full mode is what the README reports; quick mode (CI)
// only proves the harness works and the ratios are computed, so its durations are short and its
// targets are reported but not enforced.

/** Targets, one per figure. */
export const TARGETS = {
  warm_read_throughput_ratio: { op: ">=", value: 0.85 },
  warm_read_upstream_calls: { op: "<=", value: 0 },
  list_cost_at_scale: { op: "<=", value: 1.5 },
  vend_overhead: { op: "<=", value: 1.2 },
  vend_upstream_calls: { op: "==", value: 1 },
  bundle_size_ratio: { op: "<=", value: 3.0 },
  cold_start_ratio: { op: "<=", value: 1.3 },
  repeat_vend_ratio: { op: "<=", value: 0.5 },
  cost_per_million_vends: { op: "<=", value: 2.0 },
  exact_idempotency: { op: "==", value: 1 },
  failover_vend_ratio: { op: "<=", value: 1.1 },
  self_hosted_vend_ratio: { op: "<=", value: 0.5 },
};

/**
 * The cost figure as measured on the KV ledger, before the per-user Durable Objects (commit 2401fe1, full
 * mode, the same 1,000 vends): per vend 1 Worker request and 2 KV writes ($10.00 of the $10.30), 0.001 KV
 * reads, and 2 Rate Limiting calls, which Cloudflare prices nowhere.
 */
export const COST_BEFORE_OBJECTS = {
  usd_per_million_vends: 10.301,
  measured_at: "2401fe1",
  per_vend: { worker_requests: 1, kv_writes: 2, kv_reads: 0.001, rate_limit_calls_unpriced: 2 },
};

/** Key counts compared by the list-at-scale figure; 1,000 is Cloudflare's per-account cap on TURN keys. */
export const SMALL_KEY_COUNT = 10;
export const LARGE_KEY_COUNT = 1_000;
/** Delay the emulator adds to every generate-ice-servers call: a realistic round trip to Cloudflare. */
export const UPSTREAM_DELAY_MS = 50;

export const MODES = {
  full: {
    /** Warm-read throughput: 10 connections keep workerd busy without starving the load tool on 2 cores. */
    warm: { connections: 10, warmupSeconds: 3, durationSeconds: 5, rounds: 2 },
    /**
     * Cached reads counted against upstream calls, inside one 60 s freshness window: a slow or busy
     * machine is stopped at 50 s rather than crossing into the next window.
     */
    warmCalls: { connections: 10, amount: 10_000, maxSeconds: 50 },
    /** Unloaded latency (one connection): the cost of one list, not queueing. */
    listScale: { connections: 1, warmupSeconds: 1, durationSeconds: 4, rounds: 2 },
    /**
     * Vend latency unloaded (one connection): what one vend adds to the upstream call. The same runs at 10
     * connections are reported beside it, not judged: on 2 cores the load tool, the emulator and both
     * wrangler dev processes saturate the machine there, and p50 then measures queueing, not overhead.
     */
    vend: { connections: 1, loadedConnections: 10, warmupSeconds: 2, durationSeconds: 5, rounds: 2 },
    /** Unloaded, like the vend figure: what a repeat costs, not queueing. */
    repeat: { connections: 1, warmupSeconds: 1, durationSeconds: 5, rounds: 2 },
    vendCalls: { connections: 10, amount: 200 },
    /**
     * 2,000 fresh vends by 100 users, 10 each on each of two days (a working day of calls with the default
     * 1-hour TTL refreshed early is about 10 sets), 10 requests at a time.
     */
    cost: { users: 100, vendsPerUser: 10, rounds: 2, concurrency: 10 },
    coldStartRuns: 15,
    /** Creates sent at once under one Idempotency-Key; the emulator holds the one that gets through meanwhile. */
    idempotency: { concurrent: 20, createDelayMs: 200 },
    /**
     * Vends at once when the credential API starts hanging: each waits for the deadline, then fails over. Few,
     * as at the start of a real outage in one isolate: the breaker opens after VEND_BREAKER_FAILURES.
     */
    failover: { burst: 5, durationSeconds: 3 },
    /** Unloaded, like the vend figure. */
    selfHosted: { warmupSeconds: 1, durationSeconds: 5, rounds: 2 },
  },
  quick: {
    warm: { connections: 10, warmupSeconds: 1, durationSeconds: 1, rounds: 2 },
    warmCalls: { connections: 10, amount: 1_000, maxSeconds: 20 },
    listScale: { connections: 1, warmupSeconds: 0.5, durationSeconds: 1, rounds: 1 },
    vend: { connections: 1, loadedConnections: 10, warmupSeconds: 0.5, durationSeconds: 1, rounds: 1 },
    repeat: { connections: 1, warmupSeconds: 0.5, durationSeconds: 1, rounds: 1 },
    vendCalls: { connections: 10, amount: 50 },
    cost: { users: 10, vendsPerUser: 5, rounds: 2, concurrency: 10 },
    coldStartRuns: 1,
    idempotency: { concurrent: 20, createDelayMs: 200 },
    failover: { burst: 5, durationSeconds: 1 },
    selfHosted: { warmupSeconds: 0.5, durationSeconds: 1, rounds: 1 },
  },
};
