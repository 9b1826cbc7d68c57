// Verification of end-user JWTs issued by the app's own auth. Kept apart from orchestration so this,
// the riskiest code in the vend path, can be reviewed alone. Hono's JWT helpers check the signature
// (WebCrypto); ./jwt pins the algorithm and checks the claims.
import { JWT_CLOCK_TOLERANCE_SECONDS, JWT_MAX_LENGTH, SUBJECT_MAX_LENGTH } from "../constants";
import { isSubject } from "../contract/requests";
import { Failure } from "../errors";
import { log } from "../observability/log";
import { JwtRejected, verifyJwt, type JwtAlgorithm } from "./jwt";
import { KeySetUnavailable, remoteKeySet } from "./remote-jwks";
import { hmacKey } from "../crypto/hmac-key";

export interface JwtSettings {
  issuer: string;
  audience: string;
  jwksUrl?: string;
  hs256Secret?: string;
  /** JWT_MAX_LIFETIME_SECONDS: the longest lifetime (iat, or now without iat, to exp) a token may have. */
  maxLifetimeSeconds: number;
}

export interface EndUser {
  subject: string;
}

// Algorithms are pinned per mode: asymmetric keys from a JWKS can never verify an HS256 token (no
// HS/RS confusion), a shared secret can never verify RS/ES tokens, and `none` is in neither list.
const JWKS_ALGORITHMS: readonly JwtAlgorithm[] = ["RS256", "ES256"];
const SECRET_ALGORITHMS: readonly JwtAlgorithm[] = ["HS256"];
// A token without exp would never expire; one without sub names nobody.
const REQUIRED_CLAIMS = ["exp", "sub"];

/**
 * Verifies the token and returns its subject. With JWT_JWKS_URL set, only the JWKS is used (the HS256
 * secret, if also set, is ignored), so a deployment has exactly one trust anchor.
 */
export async function verifyEndUserJwt(token: string, settings: JwtSettings): Promise<EndUser> {
  const { jwksUrl } = settings;
  const secret = settings.hs256Secret ?? "";
  let subject: unknown;
  try {
    const claims = await verifyJwt(token, {
      algorithms: jwksUrl ? JWKS_ALGORITHMS : SECRET_ALGORITHMS,
      keyFor: jwksUrl
        ? (alg, kid) => remoteKeySet(jwksUrl, "auth.jwks_unavailable").keyFor(alg, kid)
        : () => hmacKey(secret, "verify"),
      issuer: settings.issuer,
      audience: settings.audience,
      clockToleranceSeconds: JWT_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: REQUIRED_CLAIMS,
      maxLength: JWT_MAX_LENGTH,
      maxLifetimeSeconds: settings.maxLifetimeSeconds,
    });
    subject = claims.sub;
  } catch (err) {
    if (err instanceof KeySetUnavailable) {
      throw new Failure(
        "identity_provider_unavailable",
        "turnvend cannot fetch the identity provider's signing keys right now; try again shortly",
        {},
      );
    }
    // Never err.message: errors from below may quote the token.
    const reason = err instanceof JwtRejected ? err.reason : "unexpected";
    log("auth.jwt_rejected", { reason });
    throw new Failure("unauthorized", refusalMessage(reason, settings));
  }
  // The same rule as an internal caller's `subject` (src/contract/requests.ts): a lone surrogate would hash
  // like U+FFFD, so "a\udc00" would share the ledger, the limits and the reused credentials of "a\ufffd".
  if (!isSubject(subject)) {
    log("auth.jwt_rejected", { reason: "bad_sub" });
    throw new Failure(
      "unauthorized",
      `the token's sub must be 1 to ${SUBJECT_MAX_LENGTH} characters of plain text (no control characters, no unpaired surrogates)`,
    );
  }
  return { subject };
}

/** What the client is told: the caps are named, so an app whose tokens exceed them learns why. */
function refusalMessage(reason: string, settings: JwtSettings): string {
  switch (reason) {
    case "expired":
      return "the token has expired";
    case "too_long":
      return `the token is longer than ${JWT_MAX_LENGTH} characters`;
    case "lifetime_too_long":
      return `the token lives longer than ${settings.maxLifetimeSeconds} seconds (from iat, or from now without iat, to exp)`;
    default:
      return "the token is not valid";
  }
}
