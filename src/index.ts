// The Worker entry point: HTTP requests, and the cron that reconciles the cache with upstream.
import { app } from "./app";
import { readConfig } from "./config";
import { ApiError } from "./http/errors";
import { reconcile } from "./jobs/reconcile";
import { keyDeps } from "./keys/deps";
import { log } from "./observability/log";

export default {
  fetch: app.fetch,

  async scheduled(_controller, env, ctx) {
    const config = readConfig(env);
    if (!config.ok) {
      log("reconcile.skipped", { reason: "not_configured", problems: config.problems.join("; ") });
      return;
    }
    ctx.waitUntil(
      reconcile(keyDeps(env, config.config)).catch((err: unknown) => {
        log("reconcile.failed", { kind: err instanceof ApiError ? err.kind : "unexpected" });
      }),
    );
  },
} satisfies ExportedHandler<Env>;
