// Identifiers turnvend accepts, and their patterns: one place, below every layer that checks one.
import { Failure } from "./errors";

/** Upstream TURN key ids: 32 lowercase hex characters (docs/cloudflare-upstream.md#turn-keys). */
export const KEY_ID_PATTERN = /^[0-9a-f]{32}$/;
/** Cloudflare account ids have the same shape as key ids. */
export const ACCOUNT_ID_PATTERN = /^[0-9a-f]{32}$/;
/**
 * A CF-Ray value as Cloudflare's edge sets it: 16 lowercase hex, then the data center's code
 * (docs/cloudflare-upstream.md#ray-ids). Anything else did not come from the edge.
 */
export const CF_RAY_PATTERN = /^[0-9a-f]{16}(?:-[A-Z]{3})?$/;
/** Caller ids in CALLERS and ACCESS_CALLERS: they appear in logs and the audit trail. */
export const CALLER_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The one check on a TURN key id. Routes apply it to input, and the upstream clients again before an id
 * reaches a URL, so a crafted id can never steer the account token.
 */
export function assertKeyId(value: unknown): string {
  if (typeof value !== "string" || !KEY_ID_PATTERN.test(value)) {
    throw new Failure("invalid_key_id", "key_id must be 32 lowercase hex characters");
  }
  return value;
}
