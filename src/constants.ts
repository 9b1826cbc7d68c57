// Named limits. Each carries its unit and the reason for its value.

/** Cloudflare's own cap on a TURN credential's lifetime (reference §2). */
export const CREDENTIAL_TTL_CAP_SECONDS = 172_800;
/** Below a minute a credential expires before a slow ICE negotiation finishes. */
export const CREDENTIAL_TTL_MIN_SECONDS = 60;

/** Upstream TURN key ids: 32 lowercase hex characters (reference §1). */
export const KEY_ID_PATTERN = /^[0-9a-f]{32}$/;
/** Cloudflare account ids have the same shape as key ids. */
export const ACCOUNT_ID_PATTERN = /^[0-9a-f]{32}$/;
/** A TURN key's bearer secret is 64 characters (reference §1). */
export const KEY_SECRET_LENGTH = 64;

/** Longest key name accepted. Cloudflare documents none; 200 keeps a key index of 1,000 keys small. */
export const KEY_NAME_MAX_LENGTH = 200;
/** Largest JSON body accepted on any route. Every valid body is far smaller. */
export const BODY_MAX_BYTES = 16 * 1024;

/** Every upstream call is abandoned after this long, so no request can hang on Cloudflare. */
export const UPSTREAM_TIMEOUT_MS = 10_000;

/** Caller tokens minted by `npm run caller:new`: 32 random bytes, base64url. */
export const CALLER_TOKEN_BYTES = 32;
