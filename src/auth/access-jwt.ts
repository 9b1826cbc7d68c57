// Verification of Cloudflare Access service-token JWTs (`Cf-Access-Jwt-Assertion`) for internal callers.
// Kept apart from orchestration so this code can be reviewed alone. Hono's JWT helpers check the
// signature (WebCrypto); ./jwt pins the algorithm and checks the claims.
import { JWT_MAX_LENGTH } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { Caller } from "./callers";
import { JwtRejected, verifyJwt, type JwtAlgorithm } from "./jwt";
import { KeySetUnavailable, remoteKeySet } from "./remote-jwks";
import type { AccessSettings } from "../config";

/** The header Cloudflare Access puts the application token in. */
export const ACCESS_JWT_HEADER = "cf-access-jwt-assertion";

/** Leeway for exp/nbf: absorbs clock skew between Access and the edge; Access tokens live for hours, so a minute costs nothing. */
const ACCESS_CLOCK_TOLERANCE_SECONDS = 60;
/** Access signs with RS256 only. Pinning it refuses `none`, HS256 (key confusion) and anything else before any key is looked up. */
const ACCESS_ALGORITHMS: readonly JwtAlgorithm[] = ["RS256"];
/** A token without exp would never expire. */
const ACCESS_REQUIRED_CLAIMS = ["exp"];
/**
 * Verifies an Access JWT (RS256 against the team's JWKS, exact `iss` and `aud`, unexpired) and maps its
 * `common_name` to a configured caller. Throws 401 for any bad token, 503 when the JWKS cannot be had.
 */
export async function verifyAccessJwt(token: string, settings: AccessSettings): Promise<Caller> {
  let commonName: unknown;
  try {
    const claims = await verifyJwt(token, {
      algorithms: ACCESS_ALGORITHMS,
      keyFor: (alg, kid) => remoteKeySet(settings.jwksUrl, "auth.access_jwks_unavailable").keyFor(alg, kid),
      issuer: settings.issuer,
      audience: settings.audience,
      clockToleranceSeconds: ACCESS_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ACCESS_REQUIRED_CLAIMS,
      maxLength: JWT_MAX_LENGTH,
    });
    commonName = claims["common_name"];
  } catch (err) {
    if (err instanceof KeySetUnavailable) {
      throw new Failure(
        "identity_provider_unavailable",
        "turnvend cannot fetch the Cloudflare Access signing keys right now; try again shortly",
        {},
      );
    }
    // Never err.message: errors from below may quote the token.
    const reason = err instanceof JwtRejected ? err.reason : "unexpected";
    return reject(
      reason,
      err instanceof JwtRejected && err.expired ? "the Access token has expired" : "the Access token is not valid",
    );
  }
  // Only service tokens carry common_name; a user's Access token (email, no common_name) names no caller.
  if (typeof commonName !== "string" || commonName.length === 0)
    return reject("no_common_name", "the Access token is not a service token");
  const entry = settings.callers.find((c) => c.commonName === commonName);
  if (!entry) {
    // The client id is an identifier, not a secret (the client secret never reaches turnvend).
    log("auth.access_jwt_rejected", { reason: "unknown_common_name", common_name: commonName.slice(0, 256) });
    throw new Failure("unauthorized", "this Access service token is not a turnvend caller");
  }
  return { id: entry.id, principal: `access:${entry.commonName}`, scopes: entry.scopes };
}

function reject(reason: string, message: string): never {
  log("auth.access_jwt_rejected", { reason });
  throw new Failure("unauthorized", message);
}
