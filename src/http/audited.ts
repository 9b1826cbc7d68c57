// Audit events: who did what to which key and how it ended, one per change, never holding a secret. The
// middleware records one for a route that changes something, after the handler (or the error path) has
// answered; `recordAudit` records one where a route decides itself (a vend refused over the quota).
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { Failure, type FailureKind } from "../errors";
import { KEY_ID_PATTERN } from "../ids";
import { log } from "../observability/log";
import type { AppEnv } from "./app-env";

/**
 * Refusals: the 401 and 403 kinds, a known caller who may not do this (a missing scope, a path naming
 * another account), and a vend over the user's quota. They cost the caller nothing, so KV keeps at most one
 * per caller and action per minute (AuditLog.recordRefusal). Everything else (successes, and every failure
 * after authorization) is kept whole. A 401 never reaches the trail in practice: it leaves no caller.
 */
const REFUSALS: ReadonlySet<FailureKind> = new Set<FailureKind>([
  "unauthorized",
  "forbidden",
  "account_mismatch",
  "origin_not_allowed",
  "quota_exceeded",
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
    await recordAudit(c, {
      caller: caller.id,
      action: c.get("auditAction") ?? action,
      keyId: c.get("auditKeyId") ?? c.req.param("key_id"),
      target: c.get("auditTarget"),
      outcome,
      refused: err instanceof Failure && REFUSALS.has(err.kind),
    });
  });
}

/**
 * Logs the event and writes it to the audit trail before the answer, so a caller who sees the result can
 * read its event; a failed write loses nothing the log line does not hold. Every attempt, refusals
 * included, is one log line; only what reaches KV is bounded.
 */
export async function recordAudit(
  c: Context<AppEnv>,
  input: {
    caller: string;
    action: string;
    keyId: string | undefined;
    target?: string;
    outcome: string;
    refused: boolean;
  },
): Promise<void> {
  const event = {
    time: new Date().toISOString(),
    request_id: c.get("requestId"),
    cf_ray: c.get("cfRay"),
    caller: input.caller,
    action: input.action,
    // Only a well-formed id is recorded: a refused path value is junk of any length.
    key_id: auditKeyId(input.keyId),
    ...(input.target === undefined ? {} : { target: input.target }),
    outcome: input.outcome,
  };
  log("audit", { ...event });
  const audit = c.get("services").audit;
  await (input.refused ? audit.recordRefusal(event) : audit.record(event)).catch(() =>
    log("audit.write_failed", { request_id: event.request_id, action: input.action }),
  );
}

function auditKeyId(value: string | undefined): string | null {
  return value !== undefined && KEY_ID_PATTERN.test(value) ? value : null;
}
