// What the routes answer, as valibot schemas. The handlers build these values from typed domain functions
// (PublicKey, ActiveKeyView, VendedCredentials, AuditEvent); these schemas describe them for the OpenAPI
// document, and test/client.test.ts parses real answers with them, so the two cannot drift apart unnoticed.
// Not imported by the Worker.
import * as v from "valibot";

const Timestamp = v.pipe(v.string(), v.isoTimestamp());
const KeyId = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/));

/** A TURN key as Cloudflare's v4 API shows it (the marker turnvend tags names with is hidden). */
export const PublicKey = v.object({ uid: KeyId, name: v.string(), created: Timestamp, modified: Timestamp });

/** Create's answer: `key` (the one-time secret) only for callers holding keys:reveal. */
export const CreatedKey = v.object({ ...PublicKey.entries, key: v.optional(v.pipe(v.string(), v.length(64))) });

/** Adopt's answer. */
export const AdoptedKey = v.object({ ...PublicKey.entries, has_secret: v.literal(true) });

export const ActiveKeyView = v.object({
  key_id: v.nullable(KeyId),
  pinned: v.boolean(),
  set_by: v.nullable(v.string()),
  set_at: v.nullable(Timestamp),
});

export const IceServer = v.object({
  urls: v.array(v.string()),
  username: v.optional(v.string()),
  credential: v.optional(v.string()),
});

/** POST /v1/ice-servers answers this bare object (no envelope), ready for `new RTCPeerConnection(...)`. */
export const VendedCredentials = v.object({
  iceServers: v.array(IceServer),
  ttl: v.pipe(v.number(), v.integer()),
  expiresAt: Timestamp,
});

export const RevokeResult = v.object({ revoked: v.pipe(v.number(), v.integer(), v.minValue(0)) });

export const AuditEvent = v.object({
  time: Timestamp,
  request_id: v.string(),
  caller: v.string(),
  action: v.string(),
  key_id: v.nullable(v.string()),
  outcome: v.string(),
});

export const AuditResultInfo = v.object({ count: v.pipe(v.number(), v.integer()), cursor: v.nullable(v.string()) });

export const DevJwt = v.object({ token: v.string(), sub: v.string(), expires_at: Timestamp });

export const HealthStatus = v.object({ status: v.literal("ok") });

const Message = v.object({ code: v.number(), message: v.string() });

/** Cloudflare's v4 success envelope around `result`. */
export function Envelope<T extends v.GenericSchema>(result: T) {
  return v.object({ success: v.literal(true), errors: v.array(Message), messages: v.array(Message), result });
}

/** The audit list adds result_info to the envelope. */
export const AuditPage = v.object({ ...Envelope(v.array(AuditEvent)).entries, result_info: AuditResultInfo });

/** Every failure: Cloudflare's v4 error envelope. */
export const ErrorEnvelope = v.object({
  success: v.literal(false),
  errors: v.pipe(v.array(Message), v.minLength(1)),
  messages: v.array(Message),
  result: v.null(),
});
