// Liveness and configuration check: no auth, no upstream call, no secret values in the answer. It reports
// how much of turnvend's v4 budget is left (numbers only), as this isolate last read it from the account
// object within V4_BUDGET_VIEW_MEMORY_MS, so polling it costs at most one object request per isolate per 5 s,
// and the state of the breaker on Cloudflare's credential API as this isolate holds it.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { ERRORS } from "../http/codes";
import { errorEnvelope, successEnvelope } from "../http/envelope";
import { methodNotAllowed } from "../http/method-not-allowed";
import { readConfig } from "../config";
import { AccountStateClient } from "../storage/account-state-client";
import { recentBudgetView } from "../upstream/v4-budget";
import { credentialBreaker } from "../vend/breaker";

export const health = new Hono<AppEnv>();

health.get("/healthz", async (c) => {
  const result = readConfig(c.env);
  c.header("Cache-Control", "no-store");
  if (result.ok) {
    const v4Budget = await recentBudgetView(new AccountStateClient(c.env.ACCOUNT_STATE)).catch(() => null);
    // This isolate's breaker on Cloudflare's credential API: in memory, no request of its own.
    const credentialApi = { mode: result.config.providers.mode, ...credentialBreaker.view() };
    return c.json(successEnvelope({ status: "ok" as const, v4_budget: v4Budget, credential_api: credentialApi }));
  }
  const { code } = ERRORS.not_configured;
  return c.json(errorEnvelope(result.problems.map((message) => ({ code, message }))), 503);
});

health.all("/healthz", methodNotAllowed("GET"));
