// turnvend's own budget of Cloudflare v4 calls, as a token bucket, and the rate-limit breaker beside it.
// Cloudflare allows 1,200 calls per 5 minutes per token and then blocks every call for 5 minutes
// (docs/cloudflare-upstream.md#api-rate-limit). The account object keeps one bucket for every isolate; this
// file is its arithmetic, pure so it can be read and tested alone.
//
// The bound. The bucket holds at most `burst` tokens and refills at (budget - burst) / (window + lease TTL).
// A token is granted at most V4_LEASE_TTL_MS before it is spent, so the calls made in any 5-minute window
// were granted within 5 minutes plus the lease TTL: at most burst + (budget - burst) = budget.
import { V4_LEASE_TTL_MS, V4_WINDOW_MS } from "../constants";
import type { V4BudgetSettings } from "../config";
import { Failure } from "../errors";

/** Reads (list, get) may not take the write reserve; writes (create, update, delete, adopt) may. */
export type V4CallKind = "read" | "write";

export interface BucketState {
  /** Tokens left at `at`; fractional while refilling. */
  tokens: number;
  /** Milliseconds since the epoch when `tokens` was computed. */
  at: number;
  /** Until when the breaker holds every call (ms since the epoch); 0 when closed. */
  openUntil: number;
}

export interface V4Grant {
  /** Tokens granted, each good for one v4 call within V4_LEASE_TTL_MS. */
  granted: number;
  /** The breaker: no call goes upstream before this (ms since the epoch). */
  openUntil: number;
  /** When nothing was granted: how long until a token of this kind is free. */
  retryAfterMs: number;
}

/** What /healthz shows of the budget: numbers only. */
export interface V4BudgetView {
  /** V4_BUDGET_PER_5_MIN. */
  per_5_min: number;
  /** The most tokens the bucket holds. */
  burst: number;
  /** Whole tokens in the bucket now. */
  remaining: number;
  /** Tokens only writes may take. */
  write_reserve: number;
  /** Seconds until the breaker lets calls through again; 0 when closed. */
  breaker_open_seconds: number;
}

/** A full bucket with the breaker closed: the state of a fresh account object. */
export function fullBucket(settings: V4BudgetSettings, now: number): BucketState {
  return { tokens: settings.burst, at: now, openUntil: 0 };
}

function refillPerMs(settings: V4BudgetSettings): number {
  return (settings.perFiveMinutes - settings.burst) / (V4_WINDOW_MS + V4_LEASE_TTL_MS);
}

/** The bucket at `now`. A budget lowered since the last call clamps what is held to the new burst. */
export function refill(state: BucketState, settings: V4BudgetSettings, now: number): BucketState {
  const elapsed = Math.max(0, now - state.at);
  const tokens = Math.min(settings.burst, state.tokens + elapsed * refillPerMs(settings));
  return { ...state, tokens, at: Math.max(now, state.at) };
}

/** Takes up to `want` tokens for calls of `kind`; none while the breaker is open. */
export function take(
  state: BucketState,
  settings: V4BudgetSettings,
  kind: V4CallKind,
  want: number,
  now: number,
): { state: BucketState; grant: V4Grant } {
  const current = refill(state, settings, now);
  const floor = kind === "read" ? settings.writeReserve : 0;
  if (current.openUntil > now) {
    return {
      state: current,
      grant: { granted: 0, openUntil: current.openUntil, retryAfterMs: current.openUntil - now },
    };
  }
  const granted = Math.max(0, Math.min(want, Math.floor(current.tokens - floor)));
  const missing = floor + 1 - current.tokens;
  return {
    state: { ...current, tokens: current.tokens - granted },
    grant: {
      granted,
      openUntil: current.openUntil,
      retryAfterMs: granted > 0 ? 0 : Math.ceil(Math.max(0, missing) / refillPerMs(settings)),
    },
  };
}

/** Opens the breaker for `retryAfterSeconds` (never shortening a longer hold). */
export function trip(state: BucketState, retryAfterSeconds: number, now: number): BucketState {
  return { ...state, openUntil: Math.max(state.openUntil, now + retryAfterSeconds * 1000) };
}

export function view(state: BucketState, settings: V4BudgetSettings, now: number): V4BudgetView {
  const current = refill(state, settings, now);
  return {
    per_5_min: settings.perFiveMinutes,
    burst: settings.burst,
    remaining: Math.floor(current.tokens),
    write_reserve: settings.writeReserve,
    breaker_open_seconds: Math.max(0, Math.ceil((current.openUntil - now) / 1000)),
  };
}

/** The 503 a call gets when a grant holds no token for it: the breaker is open, or the budget is spent. */
export function refusal(grant: V4Grant, now: number): Failure | undefined {
  if (grant.openUntil > now) {
    return new Failure(
      "upstream_unavailable",
      "Cloudflare is rate limiting this account; turnvend is holding calls until it may retry",
      { retryAfterSeconds: Math.ceil((grant.openUntil - now) / 1000), detail: "breaker_open" },
    );
  }
  if (grant.granted > 0) return undefined;
  return new Failure(
    "upstream_unavailable",
    "turnvend's own budget of Cloudflare API calls is spent for now; try again shortly",
    { retryAfterSeconds: Math.max(1, Math.ceil(grant.retryAfterMs / 1000)), detail: "v4_budget_spent" },
  );
}
