// What the account object answers about usage and the bill's guard (src/objects/usage-tables.ts), as plain
// data: it crosses the RPC boundary. The shape of GET /v1/usage is UsageReport (README, "Protecting the bill").
import type { HourUsage, UserHourUsage } from "../upstream/analytics-api";
import type { Alert } from "./alerts";

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

/**
 * A block in force whose follow-up is not all done yet: pushed to the user's object, their credentials revoked
 * upstream, announced (audit event and alert). Each run carries out what is left, until the Worker settles it.
 */
export interface PendingBlock extends UserBlock {
  user: string;
  egress_bytes_24h: number;
  push: boolean;
  revoke: boolean;
  announce: boolean;
  /** The block's alert id: the same on every attempt, so a receiver drops a repeat. */
  alert_id: string;
}

/** What the Worker got done of a run's outcome: the account object forgets what is done. */
export interface GuardSettlement {
  blocks: { user: string; since: number; pushed: boolean; revoked: boolean; announced: boolean }[];
  /** Outbox alerts now queued (or logged, with no webhook). */
  alerts: string[];
}

/** What one usage run decided: the Worker carries it out (blocks, revocations, audit events, alerts). */
export interface IngestOutcome {
  /** Blocks whose follow-up is not done: decided by this run, or left over by an earlier one. */
  blocked: PendingBlock[];
  /** How many of `blocked` this run decided. */
  new_blocks: number;
  /** Leak and threshold alerts not yet queued: this run's, and any an earlier run could not queue. */
  alerts: Alert[];
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
