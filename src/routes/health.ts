// Liveness and configuration check: no auth, no upstream call, no secret values in the answer. It reports
// how much of turnvend's v4 budget is left (numbers only), as this isolate last read it from the account
// object within V4_BUDGET_VIEW_MEMORY_MS, so polling it costs at most one object request per isolate per 5 s;
// the bill's guard (vending open or stopped, the analytics data's age), read within GUARD_MEMORY_MS; and the
// state of the breaker on Cloudflare's credential API as this isolate holds it.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { ERRORS } from "../http/codes";
import { errorEnvelope, successEnvelope } from "../http/envelope";
import { methodNotAllowed } from "../http/method-not-allowed";
import { readConfig } from "../config";
import { AccountStateClient } from "../storage/account-state-client";
import { recentBudgetView } from "../upstream/v4-budget";
import { recentGuard } from "../storage/guard-memory";
import { isoOrNull } from "../objects/usage-time";
import { credentialBreaker } from "../vend/breaker";

export const health = new Hono<AppEnv>();

health.get("/healthz", async (c) => {
  const result = readConfig(c.env);
  c.header("Cache-Control", "no-store");
  if (result.ok) {
    const account = new AccountStateClient(c.env.ACCOUNT_STATE);
    const [v4Budget, guard] = await Promise.all([recentBudgetView(account).catch(() => null), recentGuard(account)]);
    const now = Date.now();
    return c.json(
      successEnvelope({
        status: "ok" as const,
        v4_budget: v4Budget,
        // The bill's guard, as this isolate last read it (at most GUARD_MEMORY_MS old): how old the usage
        // data is, and whether vending is open.
        analytics: guard
          ? {
              ok: guard.analytics_ok,
              complete: guard.analytics_complete ?? null,
              as_of: isoOrNull(guard.as_of),
              age_seconds: guard.as_of === null ? null : Math.max(0, Math.round((now - guard.as_of) / 1000)),
            }
          : null,
        guard: guard
          ? {
              vending: guard.vending,
              reason: guard.reason,
              kill_switch: guard.kill_switch,
              lifted_until: isoOrNull(guard.lifted_until),
            }
          : null,
        // This isolate's breaker on Cloudflare's credential API: in memory, no request of its own.
        credential_api: { mode: result.config.providers.mode, ...credentialBreaker.view() },
      }),
    );
  }
  const { code } = ERRORS.not_configured;
  return c.json(errorEnvelope(result.problems.map((message) => ({ code, message }))), 503);
});

health.all("/healthz", methodNotAllowed("GET"));
