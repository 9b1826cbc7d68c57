// JWT verification shared by the two verifiers (end users, Cloudflare Access). Hono's JWT helpers do the
// parsing and the signature check (WebCrypto); this module pins the algorithm, picks the key, and checks
// the claims with a leeway (Hono's own claim checks have none, so they are switched off).
//
// Hono's error messages quote the token: they are never logged or returned. Every refusal is a
// JwtRejected carrying a short reason code.
import { decodeHeader, isTokenHeader, verify } from "hono/utils/jwt/jwt";
import { JwtHeaderInvalid, JwtTokenInvalid, JwtTokenSignatureMismatched } from "hono/utils/jwt/types";

export type JwtAlgorithm = "HS256" | "RS256" | "ES256";

/** A token refused for a reason of its own (401). `reason` is safe to log; it never holds the token. */
export class JwtRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }

  get expired(): boolean {
    return this.reason === "expired";
  }
}

export interface JwtPolicy {
  /** The only algorithms accepted, decided by the mode before any key is looked up. */
  algorithms: readonly JwtAlgorithm[];
  /** The key for a token's algorithm and `kid`; throws JwtRejected when none fits (or KeySetUnavailable). */
  keyFor: (alg: JwtAlgorithm, kid: unknown) => Promise<CryptoKey>;
  /** The only accepted `iss`. */
  issuer: string;
  /** The accepted `aud` (the token's `aud` is this string, or an array holding it). */
  audience: string;
  /** Leeway for `exp` and `nbf`. */
  clockToleranceSeconds: number;
  /** Claims that must be present besides `iss` and `aud`. */
  requiredClaims: readonly string[];
  /** Longest token accepted (characters); a longer one is refused before it is parsed. */
  maxLength: number;
  /**
   * Longest lifetime accepted (seconds): `exp - iat` at most this, and `exp - now` at most this plus the
   * leeway. Unset: no cap.
   */
  maxLifetimeSeconds?: number;
}

const ACCESS_TOKEN_TYP = "at+jwt";

/** Compact JWS: three non-empty base64url parts, no padding, nothing else (no whitespace, no `alg: none` empty signature). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Verifies `token` under `policy` and returns its claims. Throws JwtRejected, or whatever `keyFor` throws that is not a rejection. */
export async function verifyJwt(token: string, policy: JwtPolicy): Promise<Record<string, unknown>> {
  if (token.length > policy.maxLength) throw new JwtRejected("too_long");
  if (!COMPACT_JWS.test(token)) throw new JwtRejected("malformed");
  let header: unknown;
  try {
    header = decodeHeader(token);
  } catch {
    throw new JwtRejected("malformed");
  }
  // A known alg, no `crit`, and `typ` absent, JWT, or at+jwt: the access-token type of RFC 9068, which
  // identity providers (Auth0, Okta, Duende) issue for APIs such as this one.
  const typ = isTokenHeader(header) ? undefined : isTokenHeader(header, ACCESS_TOKEN_TYP) ? ACCESS_TOKEN_TYP : null;
  if (typ === null || !isTokenHeader(header, typ)) throw new JwtRejected("bad_header");
  const alg = header.alg as string;
  if (!(policy.algorithms as readonly string[]).includes(alg)) throw new JwtRejected("alg_not_allowed");
  const key = await policy.keyFor(alg as JwtAlgorithm, (header as { kid?: unknown }).kid);
  if (!keyFits(key, alg as JwtAlgorithm)) throw new JwtRejected("key_mismatch");

  let payload: unknown;
  try {
    // Only the header and the signature; the claims are checked below, with the leeway, once the signature holds.
    payload = await verify(token, key, { alg: alg as JwtAlgorithm, typ, exp: false, nbf: false, iat: false });
  } catch (err) {
    throw new JwtRejected(
      err instanceof JwtTokenSignatureMismatched
        ? "bad_signature"
        : err instanceof JwtTokenInvalid
          ? "malformed"
          : err instanceof JwtHeaderInvalid
            ? "bad_header"
            : "invalid",
    );
  }
  return checkClaims(payload, policy);
}

/** The key is of the algorithm's type (no HS/RS confusion through a misfiled key), and RSA keys have at least 2048 bits. */
function keyFits(key: CryptoKey, alg: JwtAlgorithm): boolean {
  const a = key.algorithm as { name: string; hash?: { name?: string }; namedCurve?: string; modulusLength?: number };
  switch (alg) {
    case "HS256":
      return key.type === "secret" && a.name === "HMAC" && a.hash?.name === "SHA-256";
    case "RS256":
      return (
        key.type === "public" &&
        a.name === "RSASSA-PKCS1-v1_5" &&
        a.hash?.name === "SHA-256" &&
        typeof a.modulusLength === "number" &&
        a.modulusLength >= 2048
      );
    case "ES256":
      return key.type === "public" && a.name === "ECDSA" && a.namedCurve === "P-256";
    default:
      return false;
  }
}

/** Claims, in order: presence, iss, aud, then the times (so an expired token is only called expired if it is otherwise ours). */
function checkClaims(payload: unknown, policy: JwtPolicy): Record<string, unknown> {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload))
    throw new JwtRejected("malformed_claims");
  const claims = payload as Record<string, unknown>;
  for (const claim of ["iss", "aud", ...policy.requiredClaims]) {
    if (!Object.hasOwn(claims, claim)) throw new JwtRejected(`missing_${claim}`);
  }
  if (claims.iss !== policy.issuer) throw new JwtRejected("bad_iss");
  const aud = claims.aud;
  if (!(typeof aud === "string" ? aud === policy.audience : Array.isArray(aud) && aud.includes(policy.audience)))
    throw new JwtRejected("bad_aud");

  const now = Math.floor(Date.now() / 1000);
  const tolerance = policy.clockToleranceSeconds;
  // A future iat is not refused: nbf and exp bound when a token is valid, and the lifetime cap below
  // measures from now for it.
  const iat = numericDate(claims, "iat");
  const nbf = numericDate(claims, "nbf");
  const exp = numericDate(claims, "exp");
  if (nbf !== undefined && nbf > now + tolerance) throw new JwtRejected("not_yet_valid");
  if (exp !== undefined && exp <= now - tolerance) throw new JwtRejected("expired");
  // From iat, a token may claim no longer life than the cap, however little of it is left; from now, it may
  // have no more than the cap left (plus the leeway, for an issuer whose clock runs ahead). The second also
  // bounds a token without iat, or with an iat dated ahead.
  const max = policy.maxLifetimeSeconds;
  if (max !== undefined && exp !== undefined && ((iat !== undefined && exp - iat > max) || exp - now > max + tolerance))
    throw new JwtRejected("lifetime_too_long");
  return claims;
}

/** A NumericDate claim: absent, or a finite number (JSON's 1e999 is Infinity, which would never expire). */
function numericDate(claims: Record<string, unknown>, claim: "iat" | "nbf" | "exp"): number | undefined {
  if (!Object.hasOwn(claims, claim)) return undefined;
  const value = claims[claim];
  if (typeof value !== "number" || !Number.isFinite(value)) throw new JwtRejected(`bad_${claim}`);
  return value;
}
