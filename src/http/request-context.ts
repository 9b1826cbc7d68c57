// Runs around every request: a request id, security headers, and one access-log line.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env";
import { CF_RAY_PATTERN } from "../ids";
import { log } from "../observability/log";

export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  // Always turnvend's own: nothing tells a CF-Ray the edge set from one a client sent (locally, say), and
  // ray ids are not unique anyway. A ray in Cloudflare's format is kept beside it, to find the edge's logs.
  const requestId = crypto.randomUUID();
  const ray = c.req.header("cf-ray");
  const cfRay = ray !== undefined && CF_RAY_PATTERN.test(ray) ? ray : undefined;
  c.set("requestId", requestId);
  c.set("cfRay", cfRay);
  await next();
  c.header("X-Request-Id", requestId);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  // API answers are data, never a document: should a browser render one anyway, nothing in it may run or
  // be framed. (The HTML page is a static asset with its own policy: public/_headers.)
  c.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  c.res.headers.delete("Server");
  log("request", {
    ...c.get("logFields"),
    request_id: requestId,
    cf_ray: cfRay,
    method: c.req.method,
    route: c.get("route") ?? c.req.routePath,
    status: c.res.status,
    caller: c.get("caller")?.id,
    cache: c.res.headers.get("X-Cache") ?? undefined,
    duration_ms: Date.now() - started,
  });
});
