// Request bodies and query strings of the admin routes. Strict objects: an unknown field is a 400, never
// silently ignored. src/openapi/ generates the OpenAPI document from these same schemas.
import * as v from "valibot";
import { AUDIT_PAGE_MAX, KEY_NAME_MAX_LENGTH, KEY_SECRET_LENGTH } from "../constants";
import { NAME_TAG_PATTERN } from "../keys/name-tag";
import { plainText } from "./text";

export const KeyNameBody = v.strictObject({
  name: v.optional(
    v.pipe(
      plainText("name", KEY_NAME_MAX_LENGTH),
      // turnvend's own create marker (src/keys/name-tag.ts) is reserved, so no caller can plant a key that
      // a timed-out create of another caller would take for its own.
      v.check((name) => !NAME_TAG_PATTERN.test(name), "name must not end with a turnvend marker (~tv-<12 hex>)"),
    ),
  ),
});

export const AdoptSecretBody = v.strictObject({
  key: v.pipe(
    v.string(),
    v.length(KEY_SECRET_LENGTH, `key must be the ${KEY_SECRET_LENGTH}-character TURN key secret`),
  ),
});

/** GET /v1/audit?limit=&cursor= (query values arrive as strings). */
export const AuditQuery = v.object({
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,3}$/), v.transform(Number), v.minValue(1), v.maxValue(AUDIT_PAGE_MAX)),
  ),
  // KV cursors are opaque base64-ish strings; anything else cannot be one.
  cursor: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/=_-]{1,1024}$/))),
});
