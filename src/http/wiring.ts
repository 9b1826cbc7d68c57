// Wiring, once per request: the configuration (or the 503 naming what is missing) and the dependencies
// of the domain functions, put on the context for every handler after it.
import { createMiddleware } from "hono/factory";
import { requireConfig } from "../config";
import { keyDeps } from "../keys/deps";
import { AuditLog } from "../storage/audit-log";
import { vendDeps } from "../vend/deps";
import type { AppEnv, Services } from "./app-env";

export const wiring = createMiddleware<AppEnv>(async (c, next) => {
  const config = requireConfig(c.env);
  const waitUntil = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
  const keys = keyDeps(c.env, config);
  const services: Services = {
    keys,
    vend: vendDeps(c.env, config, waitUntil),
    audit: new AuditLog(c.env.TURNVEND_KV, config.auditRetentionDays),
  };
  c.set("config", config);
  c.set("services", services);
  await next();
});
