// What the routes answer, as valibot schemas: the one definition of each shape. The domain types are
// derived from these with type-only imports (so the Worker bundles none of them); the OpenAPI document
// is built from them, and the typed client checks every answer against them.
import * as v from "valibot";
import { CF_RAY_PATTERN, KEY_ID_PATTERN } from "../ids";
import { USAGE_KINDS, type UsageKind } from "../observability/usage";

const Timestamp = v.pipe(v.string(), v.isoTimestamp());
const KeyId = v.pipe(v.string(), v.regex(KEY_ID_PATTERN));

/** A TURN key as Cloudflare's v4 API shows it, the name exactly as Cloudflare holds it. */
export const TurnKey = v.object({ uid: KeyId, name: v.string(), created: Timestamp, modified: Timestamp });
export type TurnKey = v.InferOutput<typeof TurnKey>;

/** Create's answer: `key` (the one-time secret) only for callers holding keys:reveal. */
export const CreatedTurnKey = v.object({ ...TurnKey.entries, key: v.optional(v.pipe(v.string(), v.length(64))) });
export type CreatedTurnKey = v.InferOutput<typeof CreatedTurnKey>;

/** Adopt's answer. */
export const AdoptedTurnKey = v.object({ ...TurnKey.entries, has_secret: v.literal(true) });
export type AdoptedTurnKey = v.InferOutput<typeof AdoptedTurnKey>;

export const ActiveKeyView = v.object({
  /** The key vending right now: TURN_KEY_ID when pinned, else the active key; null when none. */
  key_id: v.nullable(KeyId),
  pinned: v.boolean(),
  set_by: v.nullable(v.string()),
  set_at: v.nullable(Timestamp),
});
export type ActiveKeyView = v.InferOutput<typeof ActiveKeyView>;

/** Exactly what a browser receives for one ICE server; nothing else can be spread into it. */
export const IceServer = v.object({
  urls: v.array(v.string()),
  username: v.optional(v.string()),
  credential: v.optional(v.string()),
});
export type IceServer = v.InferOutput<typeof IceServer>;

/** Whose servers an answer holds (README, "When Cloudflare's TURN API fails"). */
export const Provider = v.picklist(["cloudflare", "self-hosted", "both"]);
export type Provider = v.InferOutput<typeof Provider>;

/** POST /v1/ice-servers answers this bare object (no envelope), ready for `new RTCPeerConnection(...)`. */
export const VendedCredentials = v.object({
  iceServers: v.array(IceServer),
  ttl: v.pipe(v.number(), v.integer()),
  /** RFC 3339, computed by turnvend: Cloudflare's answer carries no expiry. */
  expiresAt: Timestamp,
  provider: v.pipe(
    Provider,
    v.description(
      "Whose servers the answer holds: Cloudflare's, the operator's self-hosted TURN servers, or both. " +
        "RTCPeerConnection ignores this field.",
    ),
  ),
  degraded: v.optional(
    v.pipe(
      v.literal(true),
      v.description(
        "Present when the preferred provider failed: the answer comes from the fallback, or holds STUN " +
          "servers only (VEND_FAIL_OPEN=stun). Ask again soon (ice-servers.js does after 60 s) to get the " +
          "preferred provider back.",
      ),
    ),
  ),
});
export type VendedCredentials = v.InferOutput<typeof VendedCredentials>;

/** POST /v1/credentials/revoke: how many outstanding credentials were revoked. */
export const RevokeCount = v.object({
  revoked: v.pipe(v.number(), v.integer(), v.minValue(0)),
  not_revocable: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.description(
        "Outstanding self-hosted credentials that matched: the TURN REST scheme has no revocation list, so " +
          "they stay valid until they expire (FALLBACK_TTL_MAX_SECONDS at most). Absent when there were none.",
      ),
    ),
  ),
});
export type RevokeCount = v.InferOutput<typeof RevokeCount>;

export const AuditEvent = v.object({
  time: Timestamp,
  /** turnvend's own id for the request, as in its logs and X-Request-Id. */
  request_id: v.string(),
  cf_ray: v.optional(
    v.pipe(
      v.string(),
      v.regex(CF_RAY_PATTERN),
      v.description("The request's CF-Ray header, when it had Cloudflare's format: a pointer into the edge's logs."),
    ),
  ),
  caller: v.string(),
  action: v.string(),
  key_id: v.nullable(v.string()),
  target: v.optional(
    v.pipe(
      v.string(),
      v.description(
        "What the action was about beyond a key: the user's hash (guard.clear_user and the guard's own blocks), " +
          "the lift's length (guard.lift, e.g. \"seconds=3600\"), or an undelivered alert's type and time (alert.undelivered).",
      ),
    ),
  ),
  /** "success", or the failure's HTTP status and kind, e.g. "failure:502 upstream_error". */
  outcome: v.string(),
  suppressed: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(0),
      v.description(
        "Refused events only (at most one per caller and action per minute): refusals of the same caller and " +
          "action left unwritten since the previous such event, as counted by the instance that wrote this one " +
          "(a lower bound).",
      ),
    ),
  ),
});
export type AuditEvent = v.InferOutput<typeof AuditEvent>;

export const AuditResultInfo = v.object({ count: v.pipe(v.number(), v.integer()), cursor: v.nullable(v.string()) });

export const DevJwt = v.object({ token: v.string(), sub: v.string(), expires_at: Timestamp });
export type DevJwt = v.InferOutput<typeof DevJwt>;

/** GET /v1/dev/caller-token: the published dev caller token, while CALLERS holds it. */
export const DevCallerToken = v.object({ token: v.string(), caller: v.string(), scopes: v.array(v.string()) });

/** GET /v1/dev/usage: billable operations this local stack has counted since it started. */
export const DevUsage = v.object(
  Object.fromEntries(USAGE_KINDS.map((k) => [k, v.pipe(v.number(), v.minValue(0))])) as Record<
    UsageKind,
    v.SchemaWithPipe<readonly [v.NumberSchema<undefined>, v.MinValueAction<number, 0, undefined>]>
  >,
);

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** turnvend's own budget of Cloudflare v4 calls (V4_BUDGET_PER_5_MIN), as the account object keeps it. */
export const V4BudgetStatus = v.object({
  per_5_min: v.pipe(Count, v.description("V4_BUDGET_PER_5_MIN: the most v4 calls turnvend makes in any 5 minutes.")),
  burst: v.pipe(Count, v.description("The most calls the budget allows at once.")),
  remaining: v.pipe(Count, v.description("Calls the budget allows right now.")),
  write_reserve: v.pipe(Count, v.description("V4_WRITE_RESERVE: of `remaining`, the calls only writes may make.")),
  breaker_open_seconds: v.pipe(
    Count,
    v.description("Seconds until calls go to Cloudflare again after its 429; 0 when none is held."),
  ),
});

// --- The bill's guard (README, "Protecting the bill") ---

const Bytes = v.pipe(v.number(), v.minValue(0));
const UserHash = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/), v.description("The subject's keyed hash."));
const BlockReason = v.picklist(["budget", "leak"]);

/** Whether vending is open, and why not. */
export const GuardStatus = v.object({
  vending: v.picklist(["open", "stopped"]),
  reason: v.nullable(v.picklist(["account_budget", "kill_switch"])),
  kill_switch: v.boolean(),
  lifted_until: v.pipe(
    v.nullable(Timestamp),
    v.description("Until when an operator lifted the account-budget stop (PUT /v1/guard), or null."),
  ),
});

/** PUT /v1/guard: the guard after the change; `user` and `cleared` for clear_user. */
export const GuardResult = v.object({
  ...GuardStatus.entries,
  user: v.optional(UserHash),
  cleared: v.optional(v.boolean()),
});
export type GuardResult = v.InferOutput<typeof GuardResult>;

/** GET /v1/usage. Byte counts are Cloudflare's sampled estimates (README, "Protecting the bill"). */
export const UsageReport = v.object({
  as_of: v.pipe(v.nullable(Timestamp), v.description("The newest analytics data; null before the first run.")),
  age_seconds: v.nullable(v.pipe(v.number(), v.minValue(0))),
  analytics: v.object({
    ok: v.boolean(),
    last_attempt_at: v.nullable(Timestamp),
    last_success_at: v.nullable(Timestamp),
    last_error: v.nullable(v.string()),
    complete: v.pipe(
      v.nullable(v.boolean()),
      v.description(
        "The newest successful run read every user's hours; false when Cloudflare's page was full (budgets are " +
          "still enforced on it, leak detection is not). Null before the first successful run.",
      ),
    ),
  }),
  month: v.object({
    start: Timestamp,
    egress_bytes: Bytes,
    ingress_bytes: Bytes,
    budget_bytes: v.nullable(Bytes),
    used_percent: v.nullable(v.pipe(v.number(), v.minValue(0))),
    projected_egress_bytes: v.pipe(Bytes, v.description("The month's rate so far, carried to its end.")),
  }),
  guard: GuardStatus,
  series: v.pipe(
    v.array(v.object({ start: Timestamp, egress_bytes: Bytes, ingress_bytes: Bytes })),
    v.description("Every hour of the month so far, oldest first."),
  ),
  top_users: v.array(
    v.object({ user: UserHash, egress_bytes_24h: Bytes, egress_bytes_month: Bytes, blocked: v.boolean() }),
  ),
  blocked_users: v.array(
    v.object({ user: UserHash, reason: BlockReason, since: Timestamp, until: v.nullable(Timestamp) }),
  ),
  user: v.optional(
    v.object({
      user: UserHash,
      egress_bytes_24h: Bytes,
      egress_bytes_month: Bytes,
      budget_bytes_per_day: v.nullable(Bytes),
      blocked: v.nullable(v.object({ reason: BlockReason, since: Timestamp, until: v.nullable(Timestamp) })),
    }),
  ),
});
export type UsageReport = v.InferOutput<typeof UsageReport>;

/** This isolate's breaker on Cloudflare's credential API (src/vend/breaker.ts). */
export const CredentialBreakerStatus = v.object({
  mode: v.pipe(
    v.picklist(["cloudflare", "failover", "both", "self-hosted"]),
    v.description("TURN_PROVIDER_MODE. The breaker acts in failover and both modes only."),
  ),
  state: v.pipe(
    v.picklist(["closed", "open", "half_open"]),
    v.description(
      "closed: vends call Cloudflare; open: they skip it and use the fallback; half_open: the next vend probes it.",
    ),
  ),
  consecutive_failures: Count,
  open_seconds: v.pipe(Count, v.description("Seconds until the next probe; 0 unless open.")),
});

export const HealthStatus = v.object({
  status: v.literal("ok"),
  /** Numbers only; null when the account object cannot be reached right now. */
  v4_budget: v.nullable(V4BudgetStatus),
  /** The usage data's age; null when the account object cannot be reached and was never read. */
  analytics: v.nullable(
    v.object({
      ok: v.boolean(),
      as_of: v.nullable(Timestamp),
      age_seconds: v.nullable(v.pipe(v.number(), v.minValue(0))),
      complete: v.pipe(
        v.nullable(v.boolean()),
        v.description("The newest successful run read every user's hours (GET /v1/usage, `analytics.complete`)."),
      ),
    }),
  ),
  guard: v.nullable(GuardStatus),
  credential_api: v.pipe(
    CredentialBreakerStatus,
    v.description("The breaker on Cloudflare's credential API, as the isolate that answered sees it."),
  ),
});

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
