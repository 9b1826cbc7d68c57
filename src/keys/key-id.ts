import { KEY_ID_PATTERN } from "../constants";
import { ApiError } from "../http/errors";

/**
 * The one check on a TURN key id: exactly 32 lowercase hex characters. Routes apply it to input, and the
 * upstream clients again before an id reaches a URL, so a crafted id can never steer the account token.
 */
export function assertKeyId(value: unknown): string {
  if (typeof value !== "string" || !KEY_ID_PATTERN.test(value)) {
    throw new ApiError("invalid_key_id", "key_id must be 32 lowercase hex characters");
  }
  return value;
}
