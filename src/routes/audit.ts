// The audit trail, newest first, for callers holding audit:read.
import { Hono } from "../http/hono";
import * as v from "valibot";
import { AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX } from "../constants";
import type { AppEnv } from "../http/app-env";
import { ApiError, successEnvelope } from "../http/errors";
import { methodNotAllowed } from "../http/method-not-allowed";
import { requireCaller } from "../auth/require-caller";
import { AuditLog } from "../storage/audit-log";
import { AuditQuery } from "./schemas";

export const audit = new Hono<AppEnv>();

audit.get("/", requireCaller("audit:read"), async (c) => {
  const query = v.safeParse(AuditQuery, { limit: c.req.query("limit"), cursor: c.req.query("cursor") });
  if (!query.success) {
    throw new ApiError(
      "invalid_request",
      `limit must be 1 to ${AUDIT_PAGE_MAX}, and cursor must be one this route returned`,
    );
  }
  const log = new AuditLog(c.env.TURNVEND_KV, c.get("config").auditRetentionDays);
  const page = await log.page(query.output.limit ?? AUDIT_PAGE_DEFAULT, query.output.cursor).catch((err: unknown) => {
    // KV rejects a cursor it did not issue; that is the caller's mistake, not an outage.
    if (query.output.cursor) throw new ApiError("invalid_request", "cursor is not one this route returned");
    throw err;
  });
  c.header("Cache-Control", "no-store");
  return c.json({ ...successEnvelope(page.events), result_info: { count: page.events.length, cursor: page.cursor } });
});

audit.all("/", methodNotAllowed("GET"));
