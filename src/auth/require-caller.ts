// Middleware for internal-caller routes: configuration present, a valid caller token, and the scope.
// Every refusal happens here, before any upstream call.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/app-env";
import { ApiError } from "../http/errors";
import { requireConfig } from "../config";
import { authenticateCaller, bearerToken, requireScopeOf } from "./callers";
import type { Scope } from "./scopes";

export function requireCaller(scope: Scope) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const config = requireConfig(c.env);
    c.set("config", config);
    const token = bearerToken(c.req.header("authorization"));
    if (!token) throw new ApiError("unauthorized", "send a caller token as Authorization: Bearer <token>");
    const caller = await authenticateCaller(token, config.callers);
    if (!caller) throw new ApiError("unauthorized", "the caller token is not valid");
    c.set("caller", caller);
    requireScopeOf(caller, scope);
    await next();
  });
}
