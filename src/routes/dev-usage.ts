// GET /v1/dev/usage: the billable operations this local stack has counted since it started (Worker
// requests, KV and Durable Object operations, SQLite rows), for `npm run bench` to price. It exists only in
// local development, where src/dev.ts installs the meter; everywhere else the route is a plain 404.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { successEnvelope } from "../http/envelope";
import { localOnly } from "../http/local-only";
import { methodNotAllowed } from "../http/method-not-allowed";
import { installUsageMeter } from "../observability/usage";

export const devUsage = new Hono<AppEnv>();

devUsage.use("/usage", localOnly);

devUsage.get("/usage", (c) => {
  c.header("Cache-Control", "no-store");
  return c.json(successEnvelope({ ...installUsageMeter() }));
});

devUsage.all("/usage", methodNotAllowed("GET"));
