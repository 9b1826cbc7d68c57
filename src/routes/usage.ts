// GET /v1/usage (usage:read): the month's egress against the budget, the hourly series, the top users and
// the blocked ones (hashes only), the guard's state and how old the analytics data is; with ?subject=, one
// user's usage too, the subject hashed here. The shape: UsageReport (src/storage/usage-api.ts).
import * as v from "valibot";
import { UsageQuery } from "../contract/requests";
import { Failure } from "../errors";
import type { AppEnv } from "../http/app-env";
import { successEnvelope } from "../http/envelope";
import { Hono } from "../http/hono";
import { methodNotAllowed } from "../http/method-not-allowed";
import { requireCaller } from "../http/require-caller";
import { subjectHash } from "../vend/subject-hash";

export const usage = new Hono<AppEnv>();

usage.get("/", requireCaller("usage:read"), async (c) => {
  const query = v.safeParse(UsageQuery, { subject: c.req.query("subject") });
  if (!query.success) throw new Failure("invalid_request", "subject must be a user id as the vend route takes it");
  const { subject } = query.output;
  const hash = subject === undefined ? undefined : await subjectHash(c.get("config").subjectHashKey, subject);
  const report = await c.get("services").vend.account.usageReport(hash);
  c.header("Cache-Control", "no-store");
  return c.json(successEnvelope(report));
});

usage.all("/", methodNotAllowed("GET"));
