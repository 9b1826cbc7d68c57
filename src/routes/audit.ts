// The audit trail, newest first, for callers holding audit:read.
import * as v from "valibot";
import { AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX } from "../constants";
import { AuditQuery } from "../contract/requests";
import { Failure } from "../errors";
import type { AppEnv } from "../http/app-env";
import { successEnvelope } from "../http/envelope";
import { Hono } from "../http/hono";
import { methodNotAllowed } from "../http/method-not-allowed";
import { requireCaller } from "../http/require-caller";

export const audit = new Hono<AppEnv>();

audit.get("/", requireCaller("audit:read"), async (c) => {
  const query = v.safeParse(AuditQuery, { limit: c.req.query("limit"), cursor: c.req.query("cursor") });
  if (!query.success) {
    throw new Failure(
      "invalid_request",
      `limit must be 1 to ${AUDIT_PAGE_MAX}, and cursor must be one this route returned`,
    );
  }
  const { limit = AUDIT_PAGE_DEFAULT, cursor } = query.output;
  const page = await c
    .get("services")
    .audit.page(limit, cursor)
    .catch((err: unknown) => {
      // KV rejects a cursor it did not issue; that is the caller's mistake, not an outage.
      if (cursor) throw new Failure("invalid_request", "cursor is not one this route returned");
      throw err;
    });
  c.header("Cache-Control", "no-store");
  return c.json({ ...successEnvelope(page.events), result_info: { count: page.events.length, cursor: page.cursor } });
});

audit.all("/", methodNotAllowed("GET"));
