// Middleware for internal-caller routes: a valid caller token or Cloudflare Access service-token JWT
// holding the scope. Handlers after it read `c.get("caller")` as a Caller, never undefined.
import { createMiddleware } from "hono/factory";
import { ACCESS_JWT_HEADER } from "../auth/access-jwt";
import { type Caller, requireScopeOf } from "../auth/callers";
import { identifyCaller } from "../auth/identify-caller";
import type { Scope } from "../scopes";
import type { AppEnv } from "./app-env";

/** The context of a handler behind requireCaller: the caller is set. */
export interface CallerEnv extends AppEnv {
  Variables: AppEnv["Variables"] & { caller: Caller };
}

export function requireCaller(scope: Scope) {
  return createMiddleware<CallerEnv>(async (c, next) => {
    const caller = await identifyCaller(
      c.req.header("authorization"),
      c.req.header(ACCESS_JWT_HEADER),
      c.get("config"),
    );
    c.set("caller", caller);
    requireScopeOf(caller, scope);
    await next();
  });
}
