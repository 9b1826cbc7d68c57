// Middleware for routes that change something: after the handler (or the error path) has answered,
// one audit event records who did what to which key and how it ended. It never holds a secret.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env";
import { Failure, type FailureKind } from "../errors";
import { log } from "../observability/log";
import { KEY_ID_PATTERN } from "../ids";

/**
 * Refusals: the 401 and 403 kinds, a known caller who may not do this (a missing scope, a path naming
 * another account). They cost the caller nothing, so KV keeps at most one per caller and action per minute
 * (AuditLog.recordRefusal). Everything else (successes, and every failure after authorization) is kept
 * whole. A 401 never reaches the trail in practice: it leaves no caller to attribute it to.
 */
const REFUSALS: ReadonlySet<FailureKind> = new Set<FailureKind>([
  "unauthorized",
  "forbidden",
  "account_mismatch",
  "origin_not_allowed",
]);

export function audited(action: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    await next();
    const caller = c.get("caller");
    // Refused before authentication: nobody to attribute it to, and the access log has it.
    if (!caller) return;
    const err = c.error;
    const outcome =
      c.res.status < 400 ? "success" : `failure:${c.res.status}${err instanceof Failure ? ` ${err.kind}` : ""}`;
    const event = {
      time: new Date().toISOString(),
      request_id: c.get("requestId"),
      cf_ray: c.get("cfRay"),
      caller: caller.id,
      action: c.get("auditAction") ?? action,
      // Only a well-formed id is recorded: a refused path value is junk of any length.
      key_id: auditKeyId(c.get("auditKeyId") ?? c.req.param("key_id")),
      outcome,
    };
    // Every attempt, refusals included, is one log line; only what reaches KV is bounded.
    log("audit", { ...event });
    const audit = c.get("services").audit;
    const refused = err instanceof Failure && REFUSALS.has(err.kind);
    // Written before the answer, so a caller who sees the result can read its event; a failed write
    // loses nothing the log line above does not hold.
    await (refused ? audit.recordRefusal(event) : audit.record(event)).catch(() =>
      log("audit.write_failed", { request_id: event.request_id, action }),
    );
  });
}

function auditKeyId(value: string | undefined): string | null {
  return value !== undefined && KEY_ID_PATTERN.test(value) ? value : null;
}
