// The HTTP surface: each resource is its own Hono app, mounted here. One notFound, one onError.
import type { Context } from "hono";
import { Hono } from "./http/hono";
import { Failure } from "./errors";
import type { AppEnv } from "./http/app-env";
import { onError } from "./http/on-error";
import { requestContext } from "./http/request-context";
import { wiring } from "./http/wiring";
import { activeKey } from "./routes/active-key";
import { audit } from "./routes/audit";
import { credentials } from "./routes/credentials";
import { guard } from "./routes/guard";
import { health } from "./routes/health";
import { iceServers } from "./routes/ice-servers";
import { keySecrets } from "./routes/key-secrets";
import { turnKeys } from "./routes/turn-keys";
import { usage } from "./routes/usage";

// Answered, not thrown: Hono runs notFound outside the handler chain, so a throw here would skip the
// request-context middleware's tail (no X-Request-Id, no security headers, no access-log line).
const notFound = (c: Context<AppEnv>) =>
  onError(new Failure("route_not_found", "no such route; see README.md for the API"), c);

/**
 * Builds the Worker's HTTP surface. `extend` mounts routes that exist only in local development
 * (src/dev.ts), so that the deployed bundle does not carry them.
 */
export function buildApp(extend?: (app: Hono<AppEnv>) => void): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestContext);
  // One spelling per resource: `/turn_keys/` is not `/turn_keys`. The tiny preset's router (src/http/hono.ts)
  // tolerates a trailing slash on every route, so the rule Hono's `strict: true` would give is kept here.
  app.use(async (c, next) => {
    if (c.req.path.length > 1 && c.req.path.endsWith("/")) return notFound(c);
    await next();
  });
  // /healthz answers even when the configuration is invalid (it lists the problems); every API route
  // after it gets the configuration and its dependencies from the wiring, or 503 naming what is missing.
  app.route("/", health);
  app.use("/client/v4/*", wiring);
  app.use("/v1/*", wiring);
  app.route("/client/v4/accounts/:account_id/calls/turn_keys", turnKeys);
  app.route("/v1/keys", keySecrets);
  app.route("/v1/audit", audit);
  app.route("/v1/ice-servers", iceServers);
  app.route("/v1/credentials", credentials);
  app.route("/v1/active-key", activeKey);
  app.route("/v1/usage", usage);
  app.route("/v1/guard", guard);
  extend?.(app);
  app.notFound(notFound);
  app.onError(onError);
  return app;
}

/** The deployed surface. */
export const app = buildApp();
