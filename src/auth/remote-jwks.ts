// A remote JSON Web Key Set, shared by the two JWT verifiers (end users, Cloudflare Access). One set per
// URL per isolate: jose caches the fetched keys in it, and an unknown kid refetches at most every
// JWKS_COOLDOWN_MS, so forged kids cannot hammer the identity provider.
import { createRemoteJWKSet, errors, type JWTVerifyGetKey } from "jose";
import { JWKS_CACHE_MAX_AGE_MS, JWKS_COOLDOWN_MS, JWKS_TIMEOUT_MS } from "../constants";
import { log } from "../observability/log";

/** The key set cannot be fetched or read: the provider's problem (503), never grounds to accept. */
export class KeySetUnavailable extends Error {}

const remoteSets = new Map<string, JWTVerifyGetKey>();

/** The key lookup for `url`; `event` names the log line written when the set is unavailable. */
export function remoteKeySet(url: string, event: string): JWTVerifyGetKey {
  let getKey = remoteSets.get(url);
  if (!getKey) {
    const remote = createRemoteJWKSet(new URL(url), {
      timeoutDuration: JWKS_TIMEOUT_MS,
      cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
      cooldownDuration: JWKS_COOLDOWN_MS,
    });
    // An unknown kid is the token's problem (401); a set that cannot be fetched or read is the provider's.
    getKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
        if (err instanceof errors.JOSENotSupported || err instanceof errors.JWKInvalid) throw err;
        log(event, { reason: err instanceof errors.JOSEError ? err.code : err instanceof Error ? err.name : "unknown" });
        throw new KeySetUnavailable();
      }
    };
    remoteSets.set(url, getKey);
  }
  return getKey;
}
