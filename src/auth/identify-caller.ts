// Who an internal caller is: a caller token, or a Cloudflare Access service-token JWT. Every refusal
// happens here, before any upstream call.
import type { Config } from "../config";
import { Failure } from "../errors";
import { verifyAccessJwt } from "./access-jwt";
import { authenticateCaller, bearerToken, type Caller } from "./callers";

/**
 * An Authorization header, if present, decides alone: it must hold a caller token, so a JWT sent there
 * (or a malformed header next to a valid Access JWT) is refused rather than tried another way. Only
 * without one is the Access header read, and only when Access is configured; otherwise it is ignored.
 */
export async function identifyCaller(
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
      throw new Failure("unauthorized", `send ${how}`);
    }
    const caller = await authenticateCaller(token, config.callers);
    if (!caller) throw new Failure("unauthorized", "the caller token is not valid");
    return caller;
  }
  return verifyAccessJwt(accessJwt, config.access);
}
