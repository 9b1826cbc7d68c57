// CORS for the browser-facing vend route only; admin routes never load this, so they send no CORS
// headers at all. Origins are matched exactly against ALLOWED_ORIGINS and reflected, never `*`.
import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { CORS_MAX_AGE_SECONDS } from "../constants";
import type { AppEnv } from "./app-env";
import { Failure } from "../errors";

export interface CorsPolicy {
  /** Methods a browser may use, e.g. ["POST"]. */
  methods: string[];
  /** Request headers a browser may send. */
  headers: string[];
  /** Response headers browser code may read (beyond the CORS-safelisted ones). */
  expose: string[];
}

/**
 * Two layers: the outer one decorates every response (errors included, so browser code can read a 401
 * or 429); the inner one answers preflights and refuses disallowed origins before any handler runs.
 */
export function cors(policy: CorsPolicy): MiddlewareHandler<AppEnv>[] {
  const decorate = createMiddleware<AppEnv>(async (c, next) => {
    await next();
    // The answer depends on Origin even when none was sent: shared caches must key on it.
    c.header("Vary", "Origin", { append: true });
    const origin = c.req.header("origin");
    if (origin !== undefined && isAllowedOrigin(c, origin)) {
      c.header("Access-Control-Allow-Origin", origin);
      if (policy.expose.length > 0) c.header("Access-Control-Expose-Headers", policy.expose.join(", "));
    }
  });

  const enforce = createMiddleware<AppEnv>(async (c, next) => {
    const origin = c.req.header("origin");
    // No Origin: not a browser cross-origin request (server-to-server, curl). Nothing to enforce.
    if (origin === undefined) return next();
    if (!isAllowedOrigin(c, origin)) {
      throw new Failure(
        "origin_not_allowed",
        "this origin may not call turnvend; an operator can add it to ALLOWED_ORIGINS",
      );
    }
    if (c.req.method === "OPTIONS") {
      c.header("Access-Control-Allow-Methods", policy.methods.join(", "));
      c.header("Access-Control-Allow-Headers", policy.headers.join(", "));
      c.header("Access-Control-Max-Age", String(CORS_MAX_AGE_SECONDS));
      return c.body(null, 204);
    }
    return next();
  });

  return [decorate, enforce];
}

/**
 * Exact match against the allow-list, and nothing else. turnvend's own origin is not special: on Workers
 * the request URL's host is the Host header, which any non-browser client sets, so the connectivity page's
 * origin is allowed only by being listed in ALLOWED_ORIGINS.
 */
function isAllowedOrigin(c: Context<AppEnv>, origin: string): boolean {
  return c.get("config").allowedOrigins.has(origin);
}
