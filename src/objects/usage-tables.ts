// The account's usage and the bill's guard, in the account object's SQLite (docs/storage-schema.md, "Usage
// and the guard"). The cron hands it each run's analytics; it stores hourly aggregates, decides who is over
// budget or leaking and which alert thresholds were crossed, and answers GET /v1/usage and the guard state
// every vend obeys. Every method is synchronous: one run's check-and-write is exact in the object's thread.
import {
  LEAK_FACTOR,
  LEAK_FLOOR_BYTES_PER_HOUR,
  USAGE_ACCOUNT_DAYS_KEPT,
  USAGE_BLOCKED_LISTED,
  USAGE_TOP_USERS,
  USAGE_USER_HOURS_KEPT,
} from "../constants";
import type { GuardSettings } from "../config";
import { type Alert, makeAlert } from "../storage/alerts";
import type {
  GuardChange,
  GuardSettlement,
  GuardView,
  IngestOutcome,
  PendingBlock,
  UsageIngest,
  UsageReport,
  UserBlock,
} from "../storage/usage-api";
import type { UserHourUsage } from "../upstream/analytics-api";
import { DAY_MS, HOUR_MS, hourStart, iso, isoOrNull, monthStart, nextMonthStart } from "./usage-time";

// No secondary indexes: each would add a row written to every changed row, every run, and rows written cost
// a thousand times rows read. Lookups by hour or by the month's egress scan tables of at most 26 rows per user.
const SCHEMA = [
  // The account's egress and ingress per hour: the month's total, the chart, the projection.
  "CREATE TABLE IF NOT EXISTS usage_hours (hour INTEGER PRIMARY KEY, egress INTEGER NOT NULL, ingress INTEGER NOT NULL)",
  // Each user's hours of the last USAGE_USER_HOURS_KEPT hours: the rolling 24 hours and the leak baseline.
  `CREATE TABLE IF NOT EXISTS usage_user_hours (
    user TEXT NOT NULL, hour INTEGER NOT NULL, egress INTEGER NOT NULL, ingress INTEGER NOT NULL,
    PRIMARY KEY (user, hour)
  ) WITHOUT ROWID`,
  // Each user's month so far, kept up to date from the hourly rows' changes; the top users by it.
  `CREATE TABLE IF NOT EXISTS usage_users (
    user TEXT PRIMARY KEY, month INTEGER NOT NULL, egress INTEGER NOT NULL, ingress INTEGER NOT NULL,
    leak_hour INTEGER
  )`,
  // Users the guard blocked: for /v1/usage, and so one block is decided (and alerted) once.
  "CREATE TABLE IF NOT EXISTS guard_blocks (user TEXT PRIMARY KEY, reason TEXT NOT NULL, since INTEGER NOT NULL, until INTEGER)",
  // Users an operator cleared: no budget block is decided for them again until `until` (README, "Protecting
  // the bill"). A row lives at most GUARD_CLEAR_HOLD_MS.
  "CREATE TABLE IF NOT EXISTS guard_cleared (user TEXT PRIMARY KEY, until INTEGER NOT NULL)",
  // A block's follow-up not yet confirmed done (pushed to the user's object, credentials revoked, audit event
  // and alert queued): every run redoes what is left, so a crash or a failed call loses none of it. A row
  // lives from the block's decision to the run that finishes it, usually the same one.
  `CREATE TABLE IF NOT EXISTS guard_pending (
    user TEXT PRIMARY KEY, since INTEGER NOT NULL, push INTEGER NOT NULL, revoke INTEGER NOT NULL,
    announce INTEGER NOT NULL, alert_id TEXT NOT NULL
  )`,
  // Leak and threshold alerts decided but not yet queued: written with the decision, deleted once queued.
  "CREATE TABLE IF NOT EXISTS alert_outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
];

/** How long an operator's clear holds against the budget: the rolling window it was judged over. */
export const GUARD_CLEAR_HOLD_MS = DAY_MS;

/** The analytics runs' bookkeeping and the operator's switches, as rows of the control table. */
export interface UsageMeta {
  /** Epoch ms the newest successful run's data reaches. */
  as_of: number | null;
  last_attempt_at: number | null;
  last_success_at: number | null;
  last_error: string | null;
  /** The month (its start) and its egress as of the last run: the guard reads these, not a SUM. */
  month: number;
  month_egress: number;
  /** The newest successful run's per-user page was whole (absent in rows written before it was kept). */
  complete?: boolean;
}

export interface GuardSwitches {
  kill_switch: boolean;
  lifted_until: number | null;
}

interface UsageControlValues {
  usage_meta: UsageMeta;
  guard_switches: GuardSwitches;
  thresholds_sent: { month: number; sent: number[] };
}

/** The control table's rows this file uses (src/objects/account-tables.ts keeps the table). */
export interface UsageControl {
  control<K extends keyof UsageControlValues>(name: K): UsageControlValues[K] | undefined;
  setControl<K extends keyof UsageControlValues>(name: K, value: UsageControlValues[K]): void;
}

const EMPTY_META: UsageMeta = {
  as_of: null,
  last_attempt_at: null,
  last_success_at: null,
  last_error: null,
  month: 0,
  month_egress: 0,
};

interface BlockRow extends Record<string, SqlStorageValue> {
  user: string;
  reason: string;
  since: number;
  until: number | null;
}

export class UsageTables {
  constructor(
    private readonly sql: SqlStorage,
    private readonly control: UsageControl,
  ) {
    for (const statement of SCHEMA) sql.exec(statement);
  }

  // --- ingest ---

  ingest(run: UsageIngest, settings: GuardSettings): IngestOutcome {
    const { now } = run;
    const month = monthStart(now);
    const thisHour = hourStart(now);

    // The account's hours in the run's range: what changed is written, what Cloudflare no longer reports goes.
    // Past hours rarely change, so a run writes about one row, not the month's hundreds.
    const stored = new Map(
      this.sql
        .exec<{ hour: number; egress: number; ingress: number }>(
          "SELECT hour, egress, ingress FROM usage_hours WHERE hour >= ?",
          run.totalsFrom,
        )
        .toArray()
        .map((h) => [h.hour, h]),
    );
    for (const h of run.totals) {
      const was = stored.get(h.hour);
      stored.delete(h.hour);
      if (was && was.egress === h.egress && was.ingress === h.ingress) continue;
      this.sql.exec(
        "INSERT OR REPLACE INTO usage_hours (hour, egress, ingress) VALUES (?, ?, ?)",
        h.hour,
        h.egress,
        h.ingress,
      );
    }
    for (const hour of stored.keys()) this.sql.exec("DELETE FROM usage_hours WHERE hour = ?", hour);
    this.sql.exec("DELETE FROM usage_hours WHERE hour < ?", month - USAGE_ACCOUNT_DAYS_KEPT * DAY_MS);

    this.ingestUsers(run, month);
    this.sql.exec("DELETE FROM usage_user_hours WHERE hour < ?", thisHour - (USAGE_USER_HOURS_KEPT - 1) * HOUR_MS);
    // A row whose leak_hour is an hour still judged (the last one) outlives the month's turn: without it, a spike
    // in the month's last hour would alert again, and a cleared user be blocked again, in the next month's first hour.
    this.sql.exec(
      `DELETE FROM usage_users WHERE month < ? AND user NOT IN (SELECT user FROM guard_blocks)
       AND (leak_hour IS NULL OR leak_hour < ?)`,
      month,
      thisHour - HOUR_MS,
    );
    this.sql.exec("DELETE FROM guard_blocks WHERE until IS NOT NULL AND until < ?", now - DAY_MS);
    this.sql.exec("DELETE FROM guard_cleared WHERE until <= ?", now);

    const monthTotal = this.monthTotals(month);
    this.control.setControl("usage_meta", {
      as_of: now,
      last_attempt_at: now,
      last_success_at: now,
      last_error: null,
      month,
      month_egress: monthTotal.egress,
      complete: run.complete,
    });

    const outcome: IngestOutcome = {
      blocked: [],
      new_blocks: 0,
      alerts: [],
      leaks: [],
      thresholds: [],
      guard: this.guard(now, settings),
    };
    let decided = 0;
    // The page is sorted by egress, heaviest first: a cut-short one leaves out the lightest user hours, so it
    // only understates a user's 24 hours, and a budget block decided on it holds up. Leaks are judged only on
    // a whole page: a missing baseline hour would make a normal hour look like a spike.
    if (settings.userBudgetBytesPerDay !== null) decided += this.overBudget(now, settings.userBudgetBytesPerDay);
    if (run.complete) {
      outcome.leaks.push(...this.leaks(now));
      for (const leak of outcome.leaks) {
        this.outbox(
          makeAlert("leak_suspected", {
            user: leak.user,
            hour: iso(leak.hour),
            egress_bytes_hour: leak.egress_bytes_hour,
            baseline_bytes_per_hour: leak.baseline_bytes_per_hour,
            action: settings.leakAction,
          }),
        );
        if (settings.leakAction !== "revoke" || this.activeBlock(leak.user, now)?.reason === "leak") continue;
        this.putBlock(leak.user, { reason: "leak", since: now, until: null });
        decided++;
      }
    }
    outcome.thresholds = this.crossedThresholds(month, monthTotal.egress, settings);
    for (const t of outcome.thresholds) {
      this.outbox(
        makeAlert("threshold_crossed", {
          percent: t.percent,
          month: iso(month),
          month_egress_bytes: t.month_egress_bytes,
          budget_bytes: t.budget_bytes,
          vending: outcome.guard.vending,
        }),
      );
    }
    outcome.new_blocks = decided;
    outcome.blocked = this.pendingBlocks(now);
    outcome.alerts = this.sql
      .exec<{ body: string }>("SELECT body FROM alert_outbox")
      .toArray()
      .map((r) => JSON.parse(r.body) as Alert);
    return outcome;
  }

  private outbox(alert: Alert): void {
    this.sql.exec("INSERT INTO alert_outbox (id, body) VALUES (?, ?)", alert.id, JSON.stringify(alert));
  }

  /** Blocks in force with follow-up left; rows of blocks gone since (cleared, expired) are forgotten. */
  private pendingBlocks(now: number): PendingBlock[] {
    const rows = this.sql
      .exec<
        BlockRow & { push: number; revoke: number; announce: number; alert_id: string; block_since: number | null }
      >(
        `SELECT p.user AS user, p.since AS since, p.push AS push, p.revoke AS revoke, p.announce AS announce,
           p.alert_id AS alert_id, b.reason AS reason, b.until AS until, b.since AS block_since
         FROM guard_pending p LEFT JOIN guard_blocks b ON b.user = p.user`,
      )
      .toArray();
    const out: PendingBlock[] = [];
    for (const r of rows) {
      if (r.block_since !== r.since || (r.until !== null && r.until <= now)) {
        this.sql.exec("DELETE FROM guard_pending WHERE user = ?", r.user);
        continue;
      }
      out.push({
        user: r.user,
        reason: r.reason as UserBlock["reason"],
        since: r.since,
        until: r.until,
        egress_bytes_24h: this.user24h(r.user, now),
        push: r.push === 1,
        revoke: r.revoke === 1,
        announce: r.announce === 1,
        alert_id: r.alert_id,
      });
    }
    return out;
  }

  /** Forgets what the Worker got done: queued alerts, and each block's follow-up (the row goes when all is). */
  settle(done: GuardSettlement): void {
    for (const id of done.alerts) this.sql.exec("DELETE FROM alert_outbox WHERE id = ?", id);
    for (const b of done.blocks) {
      if (b.pushed && b.revoked && b.announced) {
        this.sql.exec("DELETE FROM guard_pending WHERE user = ? AND since = ?", b.user, b.since);
        continue;
      }
      // Flags only ever go from "to do" to "done": a write happens only when one of them did.
      this.sql.exec(
        `UPDATE guard_pending SET push = push AND ?, revoke = revoke AND ?, announce = announce AND ?
         WHERE user = ? AND since = ? AND (push AND ? OR revoke AND ? OR announce AND ?)`,
        b.pushed ? 0 : 1,
        b.revoked ? 0 : 1,
        b.announced ? 0 : 1,
        b.user,
        b.since,
        b.pushed ? 1 : 0,
        b.revoked ? 1 : 0,
        b.announced ? 1 : 0,
      );
    }
  }

  /** Replaces the users' hours in the run's range, and moves each user's month total by what changed. */
  private ingestUsers(run: UsageIngest, month: number): void {
    const key = (user: string, hour: number) => `${user} ${hour}`;
    const old = new Map<string, UserHourUsage>();
    for (const row of this.sql
      .exec<{ user: string; hour: number; egress: number; ingress: number }>(
        "SELECT user, hour, egress, ingress FROM usage_user_hours WHERE hour >= ?",
        run.usersFrom,
      )
      .toArray()) {
      old.set(key(row.user, row.hour), row);
    }
    const fresh = new Map(run.users.map((r) => [key(r.user, r.hour), r]));
    const deltas = new Map<string, { egress: number; ingress: number }>();
    const addDelta = (row: UserHourUsage, sign: 1 | -1) => {
      if (row.hour < month) return;
      const d = deltas.get(row.user) ?? { egress: 0, ingress: 0 };
      d.egress += sign * row.egress;
      d.ingress += sign * row.ingress;
      deltas.set(row.user, d);
    };
    // Only rows that changed are written: past hours rarely do, so a run writes about one row per active user.
    for (const [k, row] of old) {
      const now = fresh.get(k);
      if (now && now.egress === row.egress && now.ingress === row.ingress) continue;
      addDelta(row, -1);
      if (!now) this.sql.exec("DELETE FROM usage_user_hours WHERE user = ? AND hour = ?", row.user, row.hour);
    }
    for (const [k, row] of fresh) {
      const was = old.get(k);
      if (was && was.egress === row.egress && was.ingress === row.ingress) continue;
      addDelta(row, 1);
      this.sql.exec(
        "INSERT OR REPLACE INTO usage_user_hours (user, hour, egress, ingress) VALUES (?, ?, ?, ?)",
        row.user,
        row.hour,
        row.egress,
        row.ingress,
      );
    }
    for (const [user, d] of deltas) {
      if (d.egress === 0 && d.ingress === 0) continue;
      // A row from an earlier month starts the new month from zero.
      this.sql.exec(
        `INSERT INTO usage_users (user, month, egress, ingress) VALUES (?, ?, max(?, 0), max(?, 0))
         ON CONFLICT (user) DO UPDATE SET
           egress = max(CASE WHEN month = excluded.month THEN egress ELSE 0 END + ?, 0),
           ingress = max(CASE WHEN month = excluded.month THEN ingress ELSE 0 END + ?, 0),
           month = excluded.month`,
        user,
        month,
        d.egress,
        d.ingress,
        d.egress,
        d.ingress,
      );
    }
  }

  /**
   * Users over their rolling 24-hour budget and not blocked yet: blocked until enough hours leave the window.
   * Answers how many it blocked.
   */
  private overBudget(now: number, budget: number): number {
    const from = hourStart(now) - 23 * HOUR_MS;
    const rows = this.sql
      .exec<{ user: string; hour: number; egress: number }>(
        `SELECT user, hour, egress FROM usage_user_hours WHERE hour >= ?
         AND user IN (SELECT user FROM usage_user_hours WHERE hour >= ? GROUP BY user HAVING sum(egress) > ?)
         ORDER BY user, hour`,
        from,
        from,
        budget,
      )
      .toArray();
    const byUser = new Map<string, { hour: number; egress: number }[]>();
    for (const r of rows) byUser.set(r.user, [...(byUser.get(r.user) ?? []), r]);
    let blocked = 0;
    const cleared = new Set(
      this.sql
        .exec<{ user: string }>("SELECT user FROM guard_cleared WHERE until > ?", now)
        .toArray()
        .map((r) => r.user),
    );
    for (const [user, hours] of byUser) {
      if (this.activeBlock(user, now) || cleared.has(user)) continue;
      let total = hours.reduce((s, h) => s + h.egress, 0);
      // The window is the 24 hour buckets up to this one: bucket [h, h+1h) leaves it at h + 24 h (user24h),
      // so the block lasts until enough have left.
      let until = hourStart(now) + 24 * HOUR_MS;
      for (const h of hours) {
        total -= h.egress;
        if (total <= budget) {
          until = h.hour + 24 * HOUR_MS;
          break;
        }
      }
      this.putBlock(user, { reason: "budget", since: now, until });
      blocked++;
    }
    return blocked;
  }

  /**
   * Users whose egress in an hour (this one, or the last, so a spike late in an hour is still judged after it)
   * is above LEAK_FLOOR_BYTES_PER_HOUR and LEAK_FACTOR times their mean hour over the 24 hours before it.
   * At most one alert per user and hour.
   */
  private leaks(now: number): IngestOutcome["leaks"] {
    const out: IngestOutcome["leaks"] = [];
    for (const hour of [hourStart(now) - HOUR_MS, hourStart(now)]) {
      const rows = this.sql
        .exec<{ user: string; egress: number; baseline: number; leak_hour: number | null }>(
          `SELECT h.user AS user, h.egress AS egress,
             coalesce((SELECT sum(b.egress) FROM usage_user_hours b
                       WHERE b.user = h.user AND b.hour >= ? AND b.hour < ?), 0) / 24.0 AS baseline,
             u.leak_hour AS leak_hour
           FROM usage_user_hours h LEFT JOIN usage_users u ON u.user = h.user
           WHERE h.hour = ? AND h.egress > ?`,
          hour - 24 * HOUR_MS,
          hour,
          hour,
          LEAK_FLOOR_BYTES_PER_HOUR,
        )
        .toArray();
      for (const r of rows) {
        if (r.egress <= LEAK_FACTOR * r.baseline) continue;
        if (r.leak_hour !== null && r.leak_hour >= hour) continue;
        this.markLeakHour(r.user, hour, monthStart(now));
        if (out.some((l) => l.user === r.user)) continue;
        out.push({ user: r.user, hour, egress_bytes_hour: r.egress, baseline_bytes_per_hour: Math.round(r.baseline) });
      }
    }
    return out;
  }

  private crossedThresholds(month: number, egress: number, settings: GuardSettings): IngestOutcome["thresholds"] {
    const budget = settings.accountBudgetBytesPerMonth;
    if (budget === null) return [];
    const stored = this.control.control("thresholds_sent");
    const sent = stored?.month === month ? stored.sent : [];
    const crossed = settings.alertThresholds.filter((p) => !sent.includes(p) && egress >= (budget * p) / 100);
    if (crossed.length === 0) return [];
    this.control.setControl("thresholds_sent", { month, sent: [...sent, ...crossed] });
    return crossed.map((percent) => ({ percent, month_egress_bytes: egress, budget_bytes: budget }));
  }

  /** Records a failed run: the last known state stays as it was. */
  recordFailure(now: number, error: string): void {
    const meta = this.control.control("usage_meta") ?? EMPTY_META;
    this.control.setControl("usage_meta", { ...meta, last_attempt_at: now, last_error: error });
  }

  // --- blocks ---

  activeBlock(user: string, now: number): UserBlock | undefined {
    const row = this.sql.exec<BlockRow>("SELECT * FROM guard_blocks WHERE user = ?", user).toArray()[0];
    if (!row || (row.until !== null && row.until <= now)) return undefined;
    return { reason: row.reason as UserBlock["reason"], since: row.since, until: row.until };
  }

  /** Records a block, and its follow-up as all to do (carried out by the Worker, settled by settle()). */
  private putBlock(user: string, block: UserBlock): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO guard_blocks (user, reason, since, until) VALUES (?, ?, ?, ?)",
      user,
      block.reason,
      block.since,
      block.until,
    );
    this.sql.exec(
      "INSERT OR REPLACE INTO guard_pending (user, since, push, revoke, announce, alert_id) VALUES (?, ?, 1, 1, 1, ?)",
      user,
      block.since,
      crypto.randomUUID(),
    );
  }

  /**
   * An operator cleared the user: the block goes, the spike that led to it counts as seen (a later hour's spike
   * still alerts, and blocks with LEAK_ACTION=revoke), and no budget block is decided for them for
   * GUARD_CLEAR_HOLD_MS. Without both, the next run would find the same data and block them again. A user with
   * no block (nor one being carried out) is left as they are: a clear is no standing exemption from the budget.
   * Answers whether there was one.
   */
  clearBlock(user: string, now: number): boolean {
    const gone = this.sql.exec("DELETE FROM guard_blocks WHERE user = ?", user).rowsWritten > 0;
    const pending = this.sql.exec("DELETE FROM guard_pending WHERE user = ?", user).rowsWritten > 0;
    if (!gone && !pending) return false;
    this.markLeakHour(user, hourStart(now), monthStart(now));
    this.sql.exec("INSERT OR REPLACE INTO guard_cleared (user, until) VALUES (?, ?)", user, now + GUARD_CLEAR_HOLD_MS);
    return true;
  }

  /** Records that the user's spikes up to `hour` were alerted; a user with no row this month gets one. */
  private markLeakHour(user: string, hour: number, month: number): void {
    this.sql.exec(
      `INSERT INTO usage_users (user, month, egress, ingress, leak_hour) VALUES (?, ?, 0, 0, ?)
       ON CONFLICT (user) DO UPDATE SET leak_hour = max(coalesce(leak_hour, 0), excluded.leak_hour)`,
      user,
      month,
      hour,
    );
  }

  // --- the guard ---

  guard(now: number, settings: GuardSettings): GuardView {
    const meta = this.control.control("usage_meta") ?? EMPTY_META;
    const switches = this.control.control("guard_switches") ?? { kill_switch: false, lifted_until: null };
    const month = monthStart(now);
    const egress = meta.month === month ? meta.month_egress : 0;
    const budget = settings.accountBudgetBytesPerMonth;
    const lifted = switches.lifted_until !== null && switches.lifted_until > now;
    const reason = switches.kill_switch
      ? "kill_switch"
      : budget !== null && egress >= budget && !lifted
        ? "account_budget"
        : null;
    return {
      vending: reason ? "stopped" : "open",
      reason,
      kill_switch: switches.kill_switch,
      lifted_until: lifted ? switches.lifted_until : null,
      month_egress_bytes: egress,
      budget_bytes: budget,
      as_of: meta.as_of,
      analytics_ok: meta.last_success_at !== null && meta.last_error === null,
      analytics_complete: meta.last_success_at === null ? null : meta.complete !== false,
    };
  }

  change(change: Exclude<GuardChange, { action: "clear_user" }>): void {
    const switches = this.control.control("guard_switches") ?? { kill_switch: false, lifted_until: null };
    if (change.action === "kill_switch") switches.kill_switch = change.on;
    else switches.lifted_until = change.until;
    this.control.setControl("guard_switches", switches);
  }

  // --- GET /v1/usage ---

  report(now: number, settings: GuardSettings, user: string | undefined): UsageReport {
    const meta = this.control.control("usage_meta") ?? EMPTY_META;
    const month = monthStart(now);
    const totals = this.monthTotals(month);
    const budget = settings.accountBudgetBytesPerMonth;
    const dataTo = meta.as_of ?? now;
    // The month's burn rate so far, carried to its end: from its start to the newest data.
    const elapsed = Math.max(HOUR_MS, dataTo - month);
    const projected = Math.round((totals.egress * (nextMonthStart(now) - month)) / elapsed);
    const hours = new Map(
      this.sql
        .exec<{ hour: number; egress: number; ingress: number }>(
          "SELECT hour, egress, ingress FROM usage_hours WHERE hour >= ? ORDER BY hour",
          month,
        )
        .toArray()
        .map((h) => [h.hour, h]),
    );
    // Every hour from the month's start to the newest, empty ones as zero: a chart's x axis has no gaps.
    const series: UsageReport["series"] = [];
    for (let h = month; h <= hourStart(Math.min(dataTo, now)); h += HOUR_MS) {
      const row = hours.get(h);
      series.push({ start: iso(h), egress_bytes: row?.egress ?? 0, ingress_bytes: row?.ingress ?? 0 });
    }
    const blocks = this.sql
      .exec<BlockRow>(
        "SELECT * FROM guard_blocks WHERE until IS NULL OR until > ? ORDER BY since DESC LIMIT ?",
        now,
        USAGE_BLOCKED_LISTED,
      )
      .toArray();
    const blockedSet = new Set(blocks.map((b) => b.user));
    const top = this.sql
      .exec<{ user: string; egress: number }>(
        "SELECT user, egress FROM usage_users WHERE month = ? ORDER BY egress DESC LIMIT ?",
        month,
        USAGE_TOP_USERS,
      )
      .toArray();
    const guard = this.guard(now, settings);
    const report: UsageReport = {
      as_of: isoOrNull(meta.as_of),
      age_seconds: meta.as_of === null ? null : Math.max(0, Math.round((now - meta.as_of) / 1000)),
      analytics: {
        ok: meta.last_success_at !== null && meta.last_error === null,
        last_attempt_at: isoOrNull(meta.last_attempt_at),
        last_success_at: isoOrNull(meta.last_success_at),
        last_error: meta.last_error,
        complete: meta.last_success_at === null ? null : meta.complete !== false,
      },
      month: {
        start: iso(month),
        egress_bytes: totals.egress,
        ingress_bytes: totals.ingress,
        budget_bytes: budget,
        used_percent: budget === null ? null : Math.round((totals.egress / budget) * 1000) / 10,
        projected_egress_bytes: projected,
      },
      guard: {
        vending: guard.vending,
        reason: guard.reason,
        kill_switch: guard.kill_switch,
        lifted_until: isoOrNull(guard.lifted_until),
      },
      series,
      top_users: top.map((t) => ({
        user: t.user,
        egress_bytes_24h: this.user24h(t.user, now),
        egress_bytes_month: t.egress,
        blocked: blockedSet.has(t.user),
      })),
      blocked_users: blocks.map((b) => ({
        user: b.user,
        reason: b.reason as UserBlock["reason"],
        since: iso(b.since),
        until: isoOrNull(b.until),
      })),
    };
    if (user !== undefined) {
      const row = this.sql
        .exec<{ egress: number }>("SELECT egress FROM usage_users WHERE user = ? AND month = ?", user, month)
        .toArray()[0];
      const block = this.activeBlock(user, now);
      report.user = {
        user,
        egress_bytes_24h: this.user24h(user, now),
        egress_bytes_month: row?.egress ?? 0,
        budget_bytes_per_day: settings.userBudgetBytesPerDay,
        blocked: block ? { reason: block.reason, since: iso(block.since), until: isoOrNull(block.until) } : null,
      };
    }
    return report;
  }

  private user24h(user: string, now: number): number {
    const row = this.sql
      .exec<{ egress: number | null }>(
        "SELECT sum(egress) AS egress FROM usage_user_hours WHERE user = ? AND hour >= ?",
        user,
        hourStart(now) - 23 * HOUR_MS,
      )
      .toArray()[0];
    return row?.egress ?? 0;
  }

  private monthTotals(month: number): { egress: number; ingress: number } {
    const row = this.sql
      .exec<{ egress: number | null; ingress: number | null }>(
        "SELECT sum(egress) AS egress, sum(ingress) AS ingress FROM usage_hours WHERE hour >= ?",
        month,
      )
      .toArray()[0];
    return { egress: row?.egress ?? 0, ingress: row?.ingress ?? 0 };
  }
}
