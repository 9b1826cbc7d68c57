// Runs around every request: a request id, security headers, and one access-log line.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env";
import { log } from "../observability/log";

const REQUEST_ID = /^[A-Za-z0-9-]{8,64}$/;

export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  // Reuse Cloudflare's ray id when present so our logs line up with the edge's.
  const incoming = c.req.header("cf-ray") ?? "";
  const requestId = REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", requestId);
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
    method: c.req.method,
    route: c.get("route") ?? c.req.routePath,
    status: c.res.status,
    caller: c.get("caller")?.id,
    cache: c.res.headers.get("X-Cache") ?? undefined,
    duration_ms: Date.now() - started,
  });
});
