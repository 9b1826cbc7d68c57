// Audit events: who did what to which key and how it ended, one per change, never holding a secret. The
// middleware records one for a route that changes something, after the handler (or the error path) has
// answered; `recordAudit` records one where a route decides itself (a vend refused over the quota).
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env";
import { Failure } from "../errors";
import { log } from "../observability/log";
import { KEY_ID_PATTERN } from "../ids";

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
      action,
      keyId: c.get("auditKeyId") ?? c.req.param("key_id"),
      outcome,
    });
  });
}

/**
 * Logs the event and writes it to the audit trail before the answer, so a caller who sees the result can
 * read its event; a failed write loses nothing the log line does not hold.
 */
export async function recordAudit(
  c: Context<AppEnv>,
  input: { caller: string; action: string; keyId: string | undefined; outcome: string },
): Promise<void> {
  const event = {
    time: new Date().toISOString(),
    request_id: c.get("requestId"),
    caller: input.caller,
    action: input.action,
    // Only a well-formed id is recorded: a refused path value is junk of any length.
    key_id: auditKeyId(input.keyId),
    outcome: input.outcome,
  };
  log("audit", { ...event });
  await c
    .get("services")
    .audit.record(event)
    .catch(() => log("audit.write_failed", { request_id: event.request_id, action: input.action }));
}

function auditKeyId(value: string | undefined): string | null {
  return value !== undefined && KEY_ID_PATTERN.test(value) ? value : null;
}
