// GET /v1/dev/jwt?sub=...&ttl=...: a dev JWT for the connectivity page and curl. It exists only in local
// development (see isLocalDevelopment); everywhere else the route is a plain 404.
import { Hono } from "../http/hono";
import { DEV_JWT_TTL_DEFAULT_SECONDS, DEV_JWT_TTL_MAX_SECONDS, SUBJECT_MAX_LENGTH } from "../constants";
import type { AppEnv } from "../http/app-env";
import { methodNotAllowed } from "../http/method-not-allowed";
import { Failure } from "../errors";
import { successEnvelope } from "../http/envelope";
import { localOnly } from "../http/local-only";
import { mintDevJwt } from "../auth/dev-jwt";
import { isSubject } from "../contract/requests";

export const devJwt = new Hono<AppEnv>();

// Outside local development the route does not exist, whatever the method.
devJwt.use(localOnly);

devJwt.get("/jwt", async (c) => {
  const config = c.get("config");
  c.header("Cache-Control", "no-store");
  if (!config.jwt?.hs256Secret || config.jwt.jwksUrl) {
    throw new Failure("not_configured", "dev JWTs need JWT_HS256_SECRET (and no JWT_JWKS_URL)");
  }
  const subject = c.req.query("sub") ?? "dev-user";
  // The vend route's rule for a token's sub, so a dev token is never one that vending refuses.
  if (!isSubject(subject)) {
    throw new Failure(
      "invalid_request",
      `sub must be 1 to ${SUBJECT_MAX_LENGTH} characters of plain text (no control characters)`,
    );
  }
  // Never longer than JWT_MAX_LIFETIME_SECONDS: vending would refuse the token.
  const ttlMax = Math.min(DEV_JWT_TTL_MAX_SECONDS, config.jwt.maxLifetimeSeconds);
  const ttlRaw = c.req.query("ttl");
  const ttl = ttlRaw === undefined ? Math.min(DEV_JWT_TTL_DEFAULT_SECONDS, ttlMax) : Number(ttlRaw);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > ttlMax) {
    throw new Failure("invalid_request", `ttl must be a whole number of seconds in [1, ${ttlMax}]`);
  }
  const now = Date.now();
  const token = await mintDevJwt({
    secret: config.jwt.hs256Secret,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    subject,
    ttlSeconds: ttl,
    now,
  });
  return c.json(
    successEnvelope({
      token,
      sub: subject,
      expires_at: new Date(Math.floor(now / 1000) * 1000 + ttl * 1000).toISOString(),
    }),
  );
});

devJwt.all("/jwt", methodNotAllowed("GET"));
