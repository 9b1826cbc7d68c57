// What the account object answers about usage and the bill's guard (src/objects/usage-tables.ts), as plain
// data: it crosses the RPC boundary. The shape of GET /v1/usage is UsageReport (README, "Protecting the bill").
import type { HourUsage, UserHourUsage } from "../upstream/analytics-api";

export type BlockReason = "budget" | "leak";

/** A user refused new credentials by the guard. Times are epoch ms; `until` null = until an operator clears it. */
export interface UserBlock {
  reason: BlockReason;
  since: number;
  until: number | null;
}

/** The account-wide state a vend obeys, small enough for every isolate to hold (src/storage/guard-memory.ts). */
export interface GuardView {
  vending: "open" | "stopped";
  reason: null | "account_budget" | "kill_switch";
  kill_switch: boolean;
  /** Epoch ms until which an operator lifted the account-budget stop, or null. */
  lifted_until: number | null;
  month_egress_bytes: number;
  budget_bytes: number | null;
  /** Epoch ms of the newest analytics data, or null before the first successful run. */
  as_of: number | null;
  /** The last analytics run succeeded. */
  analytics_ok: boolean;
  /**
   * The newest successful run's per-user page was whole; false when it was cut short (budgets still judged on
   * it, leaks not). Null before the first successful run.
   */
  analytics_complete: boolean | null;
}

/** One usage run's data, as the cron hands it to the account object. */
export interface UsageIngest {
  now: number;
  /** The account's hours in [totalsFrom, now): every stored hour in that range is replaced. */
  totalsFrom: number;
  totals: HourUsage[];
  /** Per-user hours in [usersFrom, now), replaced likewise. */
  usersFrom: number;
  users: UserHourUsage[];
  /** False when the per-user page may be truncated: budgets are still judged on it, leaks are not. */
  complete: boolean;
}

/** What one usage run decided: the Worker carries it out (blocks, revocations, audit events, alerts). */
export interface IngestOutcome {
  /** Users blocked by this run (a block not yet pushed to the user's object). */
  blocked: (UserBlock & { user: string; egress_bytes_24h: number })[];
  /** Users whose egress this hour is far above their normal (at most once per user and hour). */
  leaks: { user: string; hour: number; egress_bytes_hour: number; baseline_bytes_per_hour: number }[];
  /** Thresholds of the account budget crossed for the first time this month. */
  thresholds: { percent: number; month_egress_bytes: number; budget_bytes: number }[];
  guard: GuardView;
}

/** An operator's change to the guard (PUT /v1/guard). */
export type GuardChange =
  | { action: "kill_switch"; on: boolean }
  | { action: "lift"; until: number | null }
  | { action: "clear_user"; user: string };

/** GET /v1/usage's result: its schema is in src/contract/responses.ts. */
export type { UsageReport } from "../contract/responses";
