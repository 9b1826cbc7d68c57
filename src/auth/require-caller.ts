// Middleware for internal-caller routes: configuration present, a valid caller token or Cloudflare Access
// service-token JWT, and the scope. Every refusal happens here, before any upstream call.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/app-env";
import { ApiError } from "../http/errors";
import { requireConfig, type Config } from "../config";
import { ACCESS_JWT_HEADER, verifyAccessJwt } from "./access-jwt";
import { authenticateCaller, bearerToken, requireScopeOf, type Caller } from "./callers";
import type { Scope } from "./scopes";

export function requireCaller(scope: Scope) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const config = requireConfig(c.env);
    c.set("config", config);
    const caller = await identifyCaller(c.req.header("authorization"), c.req.header(ACCESS_JWT_HEADER), config);
    c.set("caller", caller);
    requireScopeOf(caller, scope);
    await next();
  });
}

/**
 * An Authorization header, if present, decides alone: it must hold a caller token, so a JWT sent there
 * (or a malformed header next to a valid Access JWT) is refused rather than tried another way. Only
 * without one is the Access header read, and only when Access is configured; otherwise it is ignored.
 */
async function identifyCaller(
  authorization: string | undefined,
  accessJwt: string | undefined,
  config: Config,
): Promise<Caller> {
  if (authorization !== undefined || !config.access || !accessJwt) {
    const token = bearerToken(authorization);
    if (!token) {
      const how = config.access
        ? "a caller token as Authorization: Bearer <token>, or a Cloudflare Access service token"
        : "a caller token as Authorization: Bearer <token>";
      throw new ApiError("unauthorized", `send ${how}`);
    }
    const caller = await authenticateCaller(token, config.callers);
    if (!caller) throw new ApiError("unauthorized", "the caller token is not valid");
    return caller;
  }
  return verifyAccessJwt(accessJwt, config.access);
}
