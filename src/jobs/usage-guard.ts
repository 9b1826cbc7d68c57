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
import { type Alert, enqueueAlerts, makeAlert } from "../storage/alerts";
import { AuditLog } from "../storage/audit-log";
import type { GuardSettlement } from "../storage/usage-api";
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
  const alerts: Alert[] = [...outcome.alerts];
  const settled: GuardSettlement["blocks"] = [];
  const announced: string[] = [];
  let blocked = 0;
  // Each block's follow-up left to do: this run's new blocks, and whatever an earlier run did not finish (a
  // crash, a failed push or revocation, an alert not queued). Settled below once done, so nothing is lost.
  for (const b of outcome.blocked) {
    let pushed = !b.push;
    if (b.push) {
      try {
        await deps.users(b.user).block({ reason: b.reason, since: b.since, until: b.until });
        pushed = true;
      } catch {
        // Not in force where vends are checked yet: the next run pushes it again.
        log("guard.block_push_failed", { run: runId, subject_hash: b.user });
        continue;
      }
    }
    if (b.announce) blocked++;
    let revoked = !b.revoke;
    let revocation: Alert["data"] = {};
    if (b.revoke) {
      let outcomeText = "success";
      try {
        const r = await revokeCredentials(deps, { subjectHash: b.user }, "guard");
        // Self-hosted credentials have no revocation list: retrying cannot revoke them, they expire. What the
        // per-call cap left is revoked by the next run.
        revoked = !r.remaining;
        revocation = {
          credentials_revoked: r.revoked,
          credentials_remaining: r.remaining,
          credentials_not_revocable: r.notRevocable,
        };
        const left = [r.remaining ? "remaining" : "", r.notRevocable > 0 ? `not_revocable=${r.notRevocable}` : ""];
        if (r.remaining || r.notRevocable > 0) outcomeText = `incomplete:${left.filter(Boolean).join(",")}`;
      } catch (err) {
        outcomeText = `failure:${err instanceof Failure ? err.kind : "unexpected"}`;
        revocation = { credentials_revoked: 0, credentials_remaining: true, credentials_not_revocable: 0 };
      }
      const action = b.announce
        ? b.reason === "budget"
          ? "guard.user_blocked"
          : "guard.leak_blocked"
        : "guard.revoke_retried";
      log(action, { run: runId, subject_hash: b.user, until: isoOrNull(b.until), outcome: outcomeText, ...revocation });
      const event = {
        time: new Date().toISOString(),
        request_id: runId,
        caller: "guard",
        action,
        key_id: null,
        target: b.user,
      };
      await audit
        .record({ ...event, outcome: outcomeText })
        .catch(() => log("audit.write_failed", { request_id: runId, action }));
    }
    if (b.announce) {
      announced.push(b.user);
      alerts.push({
        ...makeAlert("user_blocked", {
          user: b.user,
          reason: b.reason,
          since: iso(b.since),
          until: isoOrNull(b.until),
          egress_bytes_24h: b.egress_bytes_24h,
          budget_bytes_per_day: config.guard.userBudgetBytesPerDay,
          ...revocation,
        }),
        id: b.alert_id,
      });
    }
    settled.push({ user: b.user, since: b.since, pushed, revoked, announced: false });
  }
  let queued = true;
  try {
    await enqueueAlerts(env.ALERTS, config.guard, alerts);
  } catch {
    // Kept in the outbox (and the blocks' follow-up): the next run queues them again, with the same ids.
    queued = false;
  }
  if (queued) for (const s of settled) s.announced = true;
  else for (const s of settled) s.announced = !announced.includes(s.user);
  await account.settleGuard({ blocks: settled, alerts: queued ? outcome.alerts.map((a) => a.id) : [] });
  const summary = { ok: queued, blocked, leaks: outcome.leaks.length, thresholds: outcome.thresholds.length };
  log("usage.completed", {
    run: runId,
    ...summary,
    users: users.rows.length,
    complete: users.complete,
    vending: outcome.guard.vending,
  });
  return summary;
}
