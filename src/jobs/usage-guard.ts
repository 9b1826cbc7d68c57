// The bill's guard, every 5 minutes (cron in wrangler.toml; README, "Protecting the bill"): reads TURN usage
// from Cloudflare's GraphQL analytics, hands it to the account object, which keeps the hourly aggregates and
// decides, and carries out what it decided: blocks pushed to the users' own objects, their outstanding
// credentials revoked upstream, one audit event per block, alerts queued for the webhook. Loaded lazily by
// src/index.ts, so none of this is evaluated when an isolate starts to serve a vend.
//
// When analytics fails (errors in a 200, a 5xx, no answer), the account object records the failure and keeps
// its last known state: no block is lifted or added, and nothing about vending changes because of it.
import { ANALYTICS_ATTEMPT_BUDGET, ANALYTICS_DEADLINE_MS } from "../constants";
import type { Config } from "../config";
import { Failure } from "../errors";
import { HOUR_MS, hourStart, iso, isoOrNull, monthStart } from "../objects/usage-time";
import { log } from "../observability/log";
import { AccountStateClient } from "../storage/account-state-client";
import { type Alert, makeAlert, sendAlerts } from "../storage/alerts";
import { AuditLog } from "../storage/audit-log";
import { rememberGuard } from "../storage/guard-memory";
import { AnalyticsApi } from "../upstream/analytics-api";
import { UpstreamBudget } from "../upstream/budget";
import { vendDeps } from "../vend/deps";
import { revokeCredentials } from "../vend/revoke";

export interface UsageRunSummary {
  ok: boolean;
  blocked: number;
  leaks: number;
  thresholds: number;
}

/** The user hours each run reads: the rolling 24 hours, and the 24 before this hour for the leak baseline. */
const USER_WINDOW_HOURS = 25;

export async function runUsageGuard(
  env: Env,
  config: Config,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<UsageRunSummary> {
  const now = Date.now();
  const runId = `usage-${crypto.randomUUID()}`;
  const account = new AccountStateClient(env.ACCOUNT_STATE);
  const api = new AnalyticsApi(
    { apiBaseUrl: config.apiBaseUrl, accountId: config.accountId, token: config.guard.analyticsToken },
    new UpstreamBudget(config.upstreamTimeoutMs, ANALYTICS_ATTEMPT_BUDGET, ANALYTICS_DEADLINE_MS),
  );
  const month = monthStart(now);
  const usersFrom = hourStart(now) - USER_WINDOW_HOURS * HOUR_MS;

  let totals: Awaited<ReturnType<AnalyticsApi["accountHours"]>>;
  let users: Awaited<ReturnType<AnalyticsApi["userHours"]>>;
  try {
    [totals, users] = await Promise.all([api.accountHours(month, now), api.userHours(usersFrom, now)]);
  } catch (err) {
    const message = err instanceof Failure ? err.message : "unexpected error reading analytics";
    log("usage.failed", {
      run: runId,
      kind: err instanceof Failure ? err.kind : "unexpected",
      detail: err instanceof Failure ? err.detail : undefined,
    });
    await account.recordUsageFailure(message);
    return { ok: false, blocked: 0, leaks: 0, thresholds: 0 };
  }
  if (!users.complete) log("usage.page_full", { run: runId, rows: users.rows.length });

  const outcome = await account.ingestUsage({
    now,
    totalsFrom: month,
    totals,
    usersFrom,
    users: users.rows,
    complete: users.complete,
  });
  rememberGuard(outcome.guard);

  const deps = vendDeps(env, config, waitUntil);
  const audit = new AuditLog(env.TURNVEND_KV, config.auditRetentionDays);
  const alerts: Alert[] = [];
  let blocked = 0;
  for (const b of outcome.blocked) {
    try {
      await deps.users(b.user).block({ reason: b.reason, since: b.since, until: b.until });
    } catch {
      // Not in force where vends are checked: forgotten, so the next run decides it again.
      log("guard.block_push_failed", { run: runId, subject_hash: b.user });
      await account.dropBlock(b.user).catch(() => undefined);
      continue;
    }
    blocked++;
    let revoked = 0;
    let revokeOutcome = "success";
    try {
      revoked = (await revokeCredentials(deps, { subjectHash: b.user }, "guard")).revoked;
    } catch (err) {
      // The block stands (no new credentials); what is left outstanding expires with its TTL.
      revokeOutcome = `failure:${err instanceof Failure ? err.kind : "unexpected"}`;
    }
    const action = b.reason === "budget" ? "guard.user_blocked" : "guard.leak_blocked";
    log(action, {
      run: runId,
      subject_hash: b.user,
      until: isoOrNull(b.until),
      revoked,
      egress_24h: b.egress_bytes_24h,
    });
    const event = {
      time: new Date().toISOString(),
      request_id: runId,
      caller: "guard",
      action,
      key_id: null,
      outcome: revokeOutcome,
    };
    await audit.record(event).catch(() => log("audit.write_failed", { request_id: runId, action }));
    alerts.push(
      makeAlert("user_blocked", {
        user: b.user,
        reason: b.reason,
        since: iso(b.since),
        until: isoOrNull(b.until),
        egress_bytes_24h: b.egress_bytes_24h,
        budget_bytes_per_day: config.guard.userBudgetBytesPerDay,
        credentials_revoked: revoked,
      }),
    );
  }
  for (const leak of outcome.leaks) {
    alerts.push(
      makeAlert("leak_suspected", {
        user: leak.user,
        hour: iso(leak.hour),
        egress_bytes_hour: leak.egress_bytes_hour,
        baseline_bytes_per_hour: leak.baseline_bytes_per_hour,
        action: config.guard.leakAction,
      }),
    );
  }
  for (const t of outcome.thresholds) {
    alerts.push(
      makeAlert("threshold_crossed", {
        percent: t.percent,
        month: iso(month),
        month_egress_bytes: t.month_egress_bytes,
        budget_bytes: t.budget_bytes,
        vending: outcome.guard.vending,
      }),
    );
  }
  await sendAlerts(env.ALERTS, config.guard, alerts);
  const summary = { ok: true, blocked, leaks: outcome.leaks.length, thresholds: outcome.thresholds.length };
  log("usage.completed", {
    run: runId,
    ...summary,
    users: users.rows.length,
    complete: users.complete,
    vending: outcome.guard.vending,
  });
  return summary;
}
