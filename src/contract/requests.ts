// Request bodies and query strings of every route. Strict objects: an unknown field is a 400, never
// silently ignored. The routes validate with these, the OpenAPI document (src/openapi/) and the typed
// client (src/client/) are built from them.
import * as v from "valibot";
import {
  AUDIT_PAGE_MAX,
  CREDENTIAL_USERNAME_MAX_LENGTH,
  GUARD_LIFT_MAX_SECONDS,
  KEY_NAME_MAX_LENGTH,
  KEY_SECRET_LENGTH,
  SUBJECT_MAX_LENGTH,
} from "../constants";
import { displayText, plainText } from "./text";

/** Create and rename: the name reaches Cloudflare exactly as sent. */
export const KeyNameBody = v.strictObject({
  name: v.optional(displayText("name", KEY_NAME_MAX_LENGTH)),
});

export const AdoptSecretBody = v.strictObject({
  // Visible ASCII only: the secret is sealed as UTF-8 (a lone surrogate would come back as U+FFFD, another
  // secret) and sent upstream as a bearer token, where anything else cannot travel.
  key: v.pipe(
    v.string(),
    v.length(KEY_SECRET_LENGTH, `key must be the ${KEY_SECRET_LENGTH}-character TURN key secret`),
    v.regex(/^[\x21-\x7e]+$/, "key must be visible ASCII characters, as TURN key secrets are"),
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

// --- Vending ---

// A subject is the identity provider's user id, never shown: turnvend keeps and logs only its HMAC. So it
// is not held to displayText: it must match the JWT `sub` of the same user exactly, whatever that holds
// (an emoji id has U+200D between its parts).
const Subject = plainText("subject", SUBJECT_MAX_LENGTH, 1);

/** The one rule for a subject, wherever it comes from (a body, a JWT's `sub`, the dev JWT route). */
export function isSubject(value: unknown): value is string {
  return v.is(Subject, value);
}

export const VendBody = v.strictObject({
  // Checked by the TTL policy, so every bad ttl gets the same invalid_ttl answer naming the range.
  ttl: v.optional(v.unknown()),
  subject: v.optional(Subject),
  // Skips the reuse window (CREDENTIAL_REUSE_SECONDS): a client refreshing before expiry needs a new set.
  fresh: v.optional(
    v.pipe(
      v.boolean(),
      v.description("true: a new set even within the reuse window (send it when refreshing before expiresAt)."),
    ),
  ),
});

export const RevokeBody = v.pipe(
  v.strictObject({
    // Usernames come from Cloudflare as visible ASCII; anything else (or a dot segment, which would move
    // the revoke URL) names no credential and must not reach a KV key or an upstream path.
    username: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^[\x21-\x7e]+$/, "username must be visible ASCII characters"),
        v.maxLength(
          CREDENTIAL_USERNAME_MAX_LENGTH,
          `username must be at most ${CREDENTIAL_USERNAME_MAX_LENGTH} characters`,
        ),
        v.check((u) => u !== "." && u !== "..", "username is not a credential username"),
      ),
    ),
    subject: v.optional(Subject),
  }),
  v.check((b) => (b.username === undefined) !== (b.subject === undefined), "send exactly one of username or subject"),
  // What to revoke: one credential, or every outstanding one of a subject.
  v.transform((b): { username: string } | { subject: string } =>
    b.username !== undefined ? { username: b.username } : { subject: b.subject as string },
  ),
);

// The id (presence included) is checked by the handler, so a bad or missing id gets the same
// invalid_key_id as everywhere else.
export const ActiveKeyBody = v.strictObject({
  key_id: v.optional(v.string()),
});

// --- The bill's guard ---

/** A user as /v1/usage lists them: the subject's keyed hash. */
const UserHash = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/, "user must be a user hash as GET /v1/usage lists it"));

/**
 * PUT /v1/guard: one action. `stop` is the kill switch (vending stops at once), `resume` undoes it; `lift`
 * lets vending go on over the account budget for `seconds` (0 ends a lift); `clear_user` lifts a user's
 * block (a suspected leak, or a budget block ended early), named by `user` hash or by `subject`.
 */
export const GuardBody = v.variant("action", [
  v.strictObject({ action: v.literal("stop") }),
  v.strictObject({ action: v.literal("resume") }),
  v.strictObject({
    action: v.literal("lift"),
    seconds: v.pipe(
      v.number(),
      v.integer("seconds must be a whole number"),
      v.minValue(0, "seconds must be 0 (end the lift) or more"),
      v.maxValue(GUARD_LIFT_MAX_SECONDS, `seconds must be at most ${GUARD_LIFT_MAX_SECONDS} (31 days)`),
    ),
  }),
  v.pipe(
    v.strictObject({ action: v.literal("clear_user"), user: v.optional(UserHash), subject: v.optional(Subject) }),
    v.check((b) => (b.user === undefined) !== (b.subject === undefined), "send exactly one of user and subject"),
  ),
]);
export type GuardBody = v.InferOutput<typeof GuardBody>;

/** GET /v1/usage?subject= : one user's usage besides the account's. */
export const UsageQuery = v.object({ subject: v.optional(Subject) });
