// The Worker entry point: HTTP requests, the cron that reconciles the cache with upstream, and the account
// object's class (wrangler.toml binds it as ACCOUNT_STATE).
import { app } from "./app";
import { readConfig } from "./config";
import { Failure } from "./errors";
import { reconcile } from "./jobs/reconcile";
import { keyDeps } from "./keys/deps";
import { log } from "./observability/log";
import { RECONCILE_ATTEMPT_BUDGET, RECONCILE_DEADLINE_MS } from "./constants";
import { UpstreamBudget } from "./upstream/budget";

export { AccountState } from "./objects/account-state";

export default {
  fetch: app.fetch,

  async scheduled(_controller, env, ctx) {
    const config = readConfig(env);
    if (!config.ok) {
      log("reconcile.skipped", { reason: "not_configured", problems: config.problems.join("; ") });
      return;
    }
    ctx.waitUntil(
      reconcile(
        keyDeps(
          env,
          config.config,
          new UpstreamBudget(config.config.upstreamTimeoutMs, RECONCILE_ATTEMPT_BUDGET, RECONCILE_DEADLINE_MS),
        ),
      ).catch((err: unknown) => {
        log("reconcile.failed", { kind: err instanceof Failure ? err.kind : "unexpected" });
      }),
    );
  },
} satisfies ExportedHandler<Env>;

// The Durable Object classes wrangler.toml binds (USER_LEDGER, USERNAME_INDEX).
export { UserLedger } from "./objects/user-ledger";
export { UsernameIndex } from "./objects/username-index";
