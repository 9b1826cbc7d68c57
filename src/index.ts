// The Worker entry point: HTTP requests, the crons (reconciliation of the cache with upstream; the bill's
// guard), the alerts queue's consumer, and the account object's class (wrangler.toml binds it as ACCOUNT_STATE).
import { app } from "./app";
import { readConfig } from "./config";
import { Failure } from "./errors";
import { reconcile } from "./jobs/reconcile";
import { keyDeps } from "./keys/deps";
import { log } from "./observability/log";
import { ALERTS_DEAD_LETTER_QUEUE, RECONCILE_ATTEMPT_BUDGET, RECONCILE_DEADLINE_MS } from "./constants";
import { UpstreamBudget } from "./upstream/budget";
import type { Alert } from "./storage/alerts";

/** The cron of the bill's guard (wrangler.toml); every other schedule reconciles. */
const USAGE_CRON = "*/5 * * * *";

export { AccountState } from "./objects/account-state";

export default {
  fetch: app.fetch,

  async scheduled(controller, env, ctx) {
    const config = readConfig(env);
    if (!config.ok) {
      log("reconcile.skipped", { reason: "not_configured", problems: config.problems.join("; ") });
      return;
    }
    // The bill's guard: imported here, on its first run, so the module is not evaluated at an isolate's start.
    if (controller.cron === USAGE_CRON) {
      const { runUsageGuard } = await import("./jobs/usage-guard");
      await runUsageGuard(env, config.config, (work) => ctx.waitUntil(work)).catch((err: unknown) => {
        log("usage.failed", { kind: err instanceof Failure ? err.kind : "unexpected" });
      });
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

  // Alerts for ALERT_WEBHOOK_URL (the ALERTS queue), delivered by a lazily imported consumer; those its
  // retries could not deliver come back from the dead-letter queue to be recorded.
  async queue(batch, env) {
    if (batch.queue === ALERTS_DEAD_LETTER_QUEUE) {
      const { recordUndeliveredAlerts } = await import("./jobs/dead-alerts");
      await recordUndeliveredAlerts(batch as MessageBatch<Alert>, env);
      return;
    }
    const { deliverAlerts } = await import("./jobs/deliver-alerts");
    await deliverAlerts(batch as MessageBatch<Alert>, env);
  },
} satisfies ExportedHandler<Env>;

// The Durable Object classes wrangler.toml binds (USER_LEDGER, USERNAME_INDEX).
export { UserLedger } from "./objects/user-ledger";
export { UsernameIndex } from "./objects/username-index";
