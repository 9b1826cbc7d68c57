// The HTTP surface: each resource is its own Hono app, mounted here. One notFound, one onError.
import type { Context } from "hono";
import { Hono } from "./http/hono";
import type { AppEnv } from "./http/app-env";
import { ApiError } from "./http/errors";
import { onError } from "./http/on-error";
import { requestContext } from "./http/request-context";
import { audit } from "./routes/audit";
import { health } from "./routes/health";
import { keySecrets } from "./routes/key-secrets";
import { turnKeys } from "./routes/turn-keys";
import { activeKey } from "./routes/active-key";
import { credentials } from "./routes/credentials";
import { devJwt } from "./routes/dev-jwt";
import { iceServers } from "./routes/ice-servers";

export const app = new Hono<AppEnv>();

// Answered, not thrown: Hono runs notFound outside the handler chain, so a throw here would skip the
// request-context middleware's tail (no X-Request-Id, no security headers, no access-log line).
const notFound = (c: Context<AppEnv>) =>
  onError(new ApiError("route_not_found", "no such route; see README.md for the API"), c);

app.use(requestContext);
// One spelling per resource: `/turn_keys/` is not `/turn_keys`. The tiny preset's router (src/http/hono.ts)
// tolerates a trailing slash on every route, so the rule Hono's `strict: true` would give is kept here.
app.use(async (c, next) => {
  if (c.req.path.length > 1 && c.req.path.endsWith("/")) return notFound(c);
  await next();
});
app.route("/", health);
app.route("/client/v4/accounts/:account_id/calls/turn_keys", turnKeys);
app.route("/v1/keys", keySecrets);
app.route("/v1/audit", audit);
app.route("/v1/ice-servers", iceServers);
app.route("/v1/credentials", credentials);
app.route("/v1/active-key", activeKey);
app.route("/v1/dev", devJwt);

app.notFound(notFound);
app.onError(onError);

export type AppType = typeof app;
