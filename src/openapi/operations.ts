// Every operation turnvend serves, with its auth, inputs, answer and the errors it can give. The request
// schemas are the ones the routes validate with; test/openapi.test.ts proves this table matches app.routes.
import * as v from "valibot";
import type { Scope } from "../scopes";
import {
  ADOPTION_PROBE_IDENTIFIER,
  CREDENTIAL_TTL_CAP_SECONDS,
  CREDENTIAL_TTL_MIN_SECONDS,
  DEV_JWT_TTL_MAX_SECONDS,
  SUBJECT_MAX_LENGTH,
} from "../constants";
import type { FailureKind } from "../errors";
import { MESSAGE_CODES } from "../http/codes";
import { KEY_ID_PATTERN } from "../ids";
import {
  ActiveKeyBody,
  AdoptSecretBody,
  AuditQuery,
  GuardBody,
  KeyNameBody,
  RevokeBody,
  UsageQuery,
  VendBody,
} from "../contract/requests";
import {
  ActiveKeyView,
  AdoptedTurnKey,
  AuditPage,
  CreatedTurnKey,
  DevCallerToken,
  DevJwt,
  DevUsage,
  Envelope,
  GuardResult,
  HealthStatus,
  UsageReport,
  TurnKey,
  RevokeCount,
  VendedCredentials,
} from "../contract/responses";

export type Auth = { kind: "none" } | { kind: "caller"; scope: Scope } | { kind: "vend" };

export interface Operation {
  method: "get" | "post" | "put" | "delete";
  /** OpenAPI form: `{param}`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  auth: Auth;
  body?: v.GenericSchema;
  query?: v.ObjectSchema<v.ObjectEntries, undefined>;
  headers?: { name: string; description: string; schema: v.GenericSchema }[];
  success: {
    status: number;
    description: string;
    schema?: v.GenericSchema;
    contentType?: string;
    headers?: Record<string, string>;
  };
  errors: FailureKind[];
  /**
   * Answered by Workers Static Assets (public/) before the Worker runs: GET and HEAD only; any other method
   * gets the asset server's bare 405, not the envelope, and no error of turnvend's applies.
   */
  staticFile?: true;
}

/** Path parameters, checked by src/routes/params.ts with these patterns. */
export const PATH_PARAMS: Record<string, v.GenericSchema> = {
  account_id: v.pipe(
    v.string(),
    v.description("The Cloudflare account turnvend manages; any other is refused with 10012."),
  ),
  key_id: v.pipe(v.string(), v.regex(KEY_ID_PATTERN), v.description("A TURN key uid: 32 lowercase hex characters.")),
};

// GET /v1/dev/jwt checks its query by hand (src/routes/dev-jwt.ts); this is its documented shape.
const DevJwtQuery = v.object({
  sub: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(SUBJECT_MAX_LENGTH))),
  ttl: v.optional(v.pipe(v.string(), v.regex(/^\d+$/), v.description(`Seconds, 1 to ${DEV_JWT_TTL_MAX_SECONDS}.`))),
});

const CALLER_AUTH: FailureKind[] = ["not_configured", "unauthorized", "forbidden", "identity_provider_unavailable"];
const JSON_BODY: FailureKind[] = [
  "invalid_request",
  "invalid_json",
  "unknown_field",
  "payload_too_large",
  "unsupported_media_type",
];
const UPSTREAM: FailureKind[] = ["upstream_rejected", "upstream_error", "upstream_unavailable"];
/** Routes that ask the account object (the v4 budget and breaker, creates, the active key). */
const ACCOUNT: FailureKind[] = ["account_state_unavailable"];
const V4_KEY: FailureKind[] = ["account_mismatch", "invalid_key_id", "key_not_found"];

const V4_KEYS = "/client/v4/accounts/{account_id}/calls/turn_keys";
const CACHE_HEADERS = {
  "X-Cache": "HIT, MISS, BYPASS (asked with Cache-Control: no-cache) or STALE (served from KV while Cloudflare fails).",
  Age: "On STALE answers: seconds since Cloudflare last confirmed the value.",
};
const NO_CACHE_HEADER = {
  name: "Cache-Control",
  description:
    "`no-cache` asks Cloudflare for a fresh answer and refreshes the cache. Each caller may reach Cloudflare 10 times a minute; " +
    `past that the cached copy answers, with message code ${MESSAGE_CODES.refresh_refused}, or 429 when nothing is cached.`,
  schema: v.string(),
};

export const OPERATIONS: Operation[] = [
  {
    method: "get",
    path: V4_KEYS,
    operationId: "listTurnKeys",
    tag: "TURN keys",
    summary: "List TURN keys",
    description:
      "Cloudflare's v4 route. Answered from KV while fresh (CACHE_FRESH_SECONDS); one KV read whatever the number of keys.",
    auth: { kind: "caller", scope: "keys:read" },
    headers: [NO_CACHE_HEADER],
    success: { status: 200, description: "Every key.", schema: Envelope(v.array(TurnKey)), headers: CACHE_HEADERS },
    errors: [...CALLER_AUTH, "account_mismatch", ...UPSTREAM, ...ACCOUNT, "rate_limited"],
  },
  {
    method: "post",
    path: V4_KEYS,
    operationId: "createTurnKey",
    tag: "TURN keys",
    summary: "Create a TURN key",
    description:
      "Cloudflare's v4 route. The name reaches Cloudflare exactly as sent. Creates run one at a time in turnvend's account object; the one-time secret is sealed in KV before answering; `key` is in the answer only for callers holding keys:reveal.",
    auth: { kind: "caller", scope: "keys:write" },
    body: KeyNameBody,
    headers: [
      {
        name: "Idempotency-Key",
        description:
          "Optional, 1 to 255 visible ASCII characters. The same key and body replay the first answer for 24 hours (header `Idempotent-Replayed: true`); while the first is running, a duplicate gets 409. Exact: concurrent duplicates make one key.",
        schema: v.pipe(v.string(), v.regex(/^[\x21-\x7e]{1,255}$/)),
      },
    ],
    success: {
      status: 201,
      description: "The new key.",
      schema: Envelope(CreatedTurnKey),
      headers: {
        "Idempotent-Replayed": "`true` when the answer replays an earlier create with the same Idempotency-Key.",
      },
    },
    errors: [
      ...CALLER_AUTH,
      "account_mismatch",
      ...JSON_BODY,
      "conflict",
      "idempotency_mismatch",
      "custody_failure",
      ...UPSTREAM,
      ...ACCOUNT,
    ],
  },
  {
    method: "get",
    path: `${V4_KEYS}/{key_id}`,
    operationId: "getTurnKey",
    tag: "TURN keys",
    summary: "Get a TURN key",
    description: "Cloudflare's v4 route, answered from KV while fresh.",
    auth: { kind: "caller", scope: "keys:read" },
    headers: [NO_CACHE_HEADER],
    success: { status: 200, description: "The key.", schema: Envelope(TurnKey), headers: CACHE_HEADERS },
    errors: [...CALLER_AUTH, ...V4_KEY, ...UPSTREAM, ...ACCOUNT, "rate_limited"],
  },
  {
    method: "put",
    path: `${V4_KEYS}/{key_id}`,
    operationId: "updateTurnKey",
    tag: "TURN keys",
    summary: "Rename a TURN key",
    description: "Cloudflare's v4 route.",
    auth: { kind: "caller", scope: "keys:write" },
    body: KeyNameBody,
    success: { status: 200, description: "The updated key.", schema: Envelope(TurnKey) },
    errors: [...CALLER_AUTH, ...V4_KEY, ...JSON_BODY, ...UPSTREAM, ...ACCOUNT],
  },
  {
    method: "delete",
    path: `${V4_KEYS}/{key_id}`,
    operationId: "deleteTurnKey",
    tag: "TURN keys",
    summary: "Delete a TURN key",
    description: "Cloudflare's v4 route. The stored secret is destroyed too.",
    auth: { kind: "caller", scope: "keys:write" },
    success: { status: 200, description: "The deleted key.", schema: Envelope(TurnKey) },
    errors: [...CALLER_AUTH, ...V4_KEY, ...UPSTREAM, ...ACCOUNT],
  },
  {
    method: "put",
    path: "/v1/keys/{key_id}/secret",
    operationId: "adoptTurnKeySecret",
    tag: "TURN keys",
    summary: "Adopt the secret of a key made elsewhere",
    description:
      "Takes custody of the 64-character secret of a key created outside turnvend (dashboard, Terraform), or replaces the one turnvend holds. The key must exist upstream, and the secret must verify: " +
      `turnvend mints one ${CREDENTIAL_TTL_MIN_SECONDS}-second credential with it (customIdentifier \`${ADOPTION_PROBE_IDENTIFIER}\`) and revokes it at once. ` +
      "A secret Cloudflare refuses is answered with 10027 and changes nothing.",
    auth: { kind: "caller", scope: "keys:write" },
    body: AdoptSecretBody,
    success: { status: 200, description: "The key, now with a secret in custody.", schema: Envelope(AdoptedTurnKey) },
    errors: [
      ...CALLER_AUTH,
      "invalid_key_id",
      ...JSON_BODY,
      "key_not_found",
      "secret_mismatch",
      "custody_failure",
      ...UPSTREAM,
      ...ACCOUNT,
    ],
  },
  {
    method: "get",
    path: "/v1/active-key",
    operationId: "getActiveKey",
    tag: "Vending",
    summary: "Which key vends credentials",
    auth: { kind: "caller", scope: "keys:read" },
    success: {
      status: 200,
      description: "The vending key (TURN_KEY_ID when pinned), or key_id null.",
      schema: Envelope(ActiveKeyView),
    },
    errors: [...CALLER_AUTH, ...ACCOUNT],
  },
  {
    method: "put",
    path: "/v1/active-key",
    operationId: "setActiveKey",
    tag: "Vending",
    summary: "Choose the key that vends credentials",
    description:
      "`key_id` (32 lowercase hex) must be a key whose secret turnvend holds; refused with 10023 when TURN_KEY_ID pins the key.",
    auth: { kind: "caller", scope: "keys:write" },
    body: ActiveKeyBody,
    success: { status: 200, description: "The new vending key.", schema: Envelope(ActiveKeyView) },
    errors: [...CALLER_AUTH, ...JSON_BODY, "invalid_key_id", "conflict", "custody_failure", ...ACCOUNT],
  },
  {
    method: "post",
    path: "/v1/ice-servers",
    operationId: "vendIceServers",
    tag: "Vending",
    summary: "Vend short-lived ICE servers",
    description:
      "With an end user's JWT (the subject is its `sub`; browsers call this with CORS from ALLOWED_ORIGINS), or with a caller token holding credentials:issue (then `subject` is required). " +
      `\`ttl\` is whole seconds from ${CREDENTIAL_TTL_MIN_SECONDS} to CREDENTIAL_TTL_MAX_SECONDS (at most ${CREDENTIAL_TTL_CAP_SECONDS}, Cloudflare's cap). ` +
      "The answer is a bare object, not an envelope: pass `iceServers` to `new RTCPeerConnection()` and fetch again before `expiresAt` (the /ice-servers.js helper does this). " +
      "`provider` says whose servers it holds (TURN_PROVIDER_MODE: Cloudflare's, the operator's self-hosted TURN servers, or both); `degraded: true` says the preferred provider failed and the answer came from the fallback, or holds STUN servers only (VEND_FAIL_OPEN=stun): ask again soon (the helper does after 60 s). " +
      "ICE_URLS=minimal keeps one STUN URL, one TURN over UDP and one TURN over TCP/TLS (443 first); port 53 is never listed.",
    auth: { kind: "vend" },
    body: VendBody,
    success: { status: 200, description: "ICE servers for one user.", schema: VendedCredentials },
    errors: [
      "not_configured",
      "unauthorized",
      "forbidden",
      "origin_not_allowed",
      "identity_provider_unavailable",
      ...JSON_BODY,
      "invalid_ttl",
      "rate_limited",
      "quota_exceeded",
      "user_egress_blocked",
      "account_budget_exceeded",
      "vending_stopped",
      "no_active_key",
      "custody_failure",
      "ledger_unavailable",
      ...UPSTREAM,
      ...ACCOUNT,
    ],
  },
  {
    method: "post",
    path: "/v1/credentials/revoke",
    operationId: "revokeCredentials",
    tag: "Vending",
    summary: "Revoke issued credentials",
    description:
      "Send exactly one of `username` (one credential) or `subject` (every outstanding credential of that user). " +
      `When a cap leaves some for later, \`messages\` holds code ${MESSAGE_CODES.revoke_incomplete}: call again. ` +
      `Self-hosted credentials (TURN_PROVIDER_MODE failover, both, self-hosted) cannot be revoked: the TURN REST scheme has no revocation list. They are counted in \`not_revocable\`, with code ${MESSAGE_CODES.not_revocable} in \`messages\`, and stay valid until they expire (FALLBACK_TTL_MAX_SECONDS at most).`,
    auth: { kind: "caller", scope: "credentials:revoke" },
    body: RevokeBody,
    success: {
      status: 200,
      description: "How many outstanding credentials were revoked.",
      schema: Envelope(RevokeCount),
    },
    errors: [...CALLER_AUTH, ...JSON_BODY, "no_active_key", "custody_failure", "ledger_unavailable", ...UPSTREAM],
  },
  {
    method: "get",
    path: "/v1/audit",
    operationId: "listAuditEvents",
    tag: "Audit",
    summary: "Read the audit trail, newest first",
    auth: { kind: "caller", scope: "audit:read" },
    query: AuditQuery,
    success: {
      status: 200,
      description: "A page of events; result_info.cursor fetches the next (null at the end).",
      schema: AuditPage,
    },
    errors: [...CALLER_AUTH, "invalid_request"],
  },
  {
    method: "get",
    path: "/v1/usage",
    operationId: "getUsage",
    tag: "Protecting the bill",
    summary: "TURN egress, budgets and the guard's state",
    description:
      "From Cloudflare's usage analytics, read every 5 minutes: the month's egress against EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH with its projection, every hour of the month, the top users and the blocked ones (hashes only), the guard's state and the data's age. With `subject`, that user's usage too (hashed by turnvend). Byte counts are Cloudflare's sampled estimates.",
    auth: { kind: "caller", scope: "usage:read" },
    query: UsageQuery,
    success: { status: 200, description: "The usage report.", schema: Envelope(UsageReport) },
    errors: [...CALLER_AUTH, "invalid_request", ...ACCOUNT],
  },
  {
    method: "put",
    path: "/v1/guard",
    operationId: "changeGuard",
    tag: "Protecting the bill",
    summary: "Kill switch, lift the account stop, clear a user",
    description:
      "One action: `stop` (kill switch: vending stops at once, 503 code 10041), `resume`, `lift` with `seconds` (vending goes on over the account budget for that long; 0 ends a lift), `clear_user` with `user` (a hash from /v1/usage) or `subject` (lifts a user's block). Audited; the kill switch also alerts.",
    auth: { kind: "caller", scope: "guard:write" },
    body: GuardBody,
    success: { status: 200, description: "The guard after the change.", schema: Envelope(GuardResult) },
    errors: [...CALLER_AUTH, ...JSON_BODY, "ledger_unavailable", ...ACCOUNT],
  },
  {
    method: "get",
    path: "/v1/dev/jwt",
    operationId: "mintDevJwt",
    tag: "Development",
    summary: "A dev JWT (local development only)",
    description:
      "Exists only when turnvend runs on a loopback upstream with JWT_HS256_SECRET; everywhere else it is a plain 404.",
    auth: { kind: "none" },
    query: DevJwtQuery,
    success: { status: 200, description: "A signed HS256 JWT for `sub`.", schema: Envelope(DevJwt) },
    errors: ["route_not_found", "not_configured", "invalid_request"],
  },
  {
    method: "get",
    path: "/v1/dev/caller-token",
    operationId: "devCallerToken",
    tag: "Development",
    summary: "The dev caller token (local development only)",
    description:
      "Exists only when turnvend runs on a loopback upstream; everywhere else it is a plain 404. Answers the published dev caller token `npm start` prints while CALLERS still holds it (503 otherwise), for the usage page's dev button: no static file holds a token.",
    auth: { kind: "none" },
    success: { status: 200, description: "The token, its caller id and scopes.", schema: Envelope(DevCallerToken) },
    errors: ["route_not_found", "not_configured"],
  },
  {
    method: "get",
    path: "/v1/dev/usage",
    operationId: "devUsage",
    tag: "Development",
    summary: "Billable operations counted (local development only)",
    description:
      "Exists only when turnvend runs on a loopback upstream; everywhere else it is a plain 404. Counts since the local stack started: Worker requests, KV and Durable Object operations, SQLite rows. `npm run bench` prices them.",
    auth: { kind: "none" },
    success: { status: 200, description: "The counts.", schema: Envelope(DevUsage) },
    errors: ["route_not_found", "not_configured"],
  },
  {
    method: "get",
    path: "/healthz",
    operationId: "health",
    tag: "Service",
    summary: "Liveness and configuration check",
    description:
      "No upstream call. Reports how much of turnvend's own budget of Cloudflare v4 calls is left (numbers only; null when the account object cannot be reached), as this isolate read it within the last 5 s, and the bill's guard (vending open or stopped, the usage data's age) as read within the last 15 s. A 503 lists every configuration problem, one error each.",
    auth: { kind: "none" },
    success: { status: 200, description: "Configured.", schema: Envelope(HealthStatus) },
    errors: ["not_configured"],
  },
  {
    method: "get",
    path: "/",
    operationId: "connectivityPage",
    tag: "Service",
    summary: "The connectivity page",
    auth: { kind: "none" },
    success: {
      status: 200,
      description: "An HTML page that vends ICE servers and tests a TURN relay.",
      contentType: "text/html",
    },
    errors: [],
    staticFile: true,
  },
  {
    method: "get",
    path: "/connectivity.js",
    operationId: "connectivityScript",
    tag: "Service",
    summary: "The connectivity page's script",
    auth: { kind: "none" },
    success: {
      status: 200,
      description: "JavaScript loaded by the connectivity page.",
      contentType: "text/javascript",
    },
    errors: [],
    staticFile: true,
  },
  {
    method: "get",
    path: "/connectivity.css",
    operationId: "connectivityStyle",
    tag: "Service",
    summary: "The connectivity page's style",
    auth: { kind: "none" },
    success: { status: 200, description: "CSS loaded by the connectivity page.", contentType: "text/css" },
    errors: [],
    staticFile: true,
  },
  {
    method: "get",
    path: "/usage",
    operationId: "usagePage",
    tag: "Service",
    summary: "The usage page",
    description:
      "Egress per hour this month, the burn against the account budget, the guard's state, the top and the blocked users, read from GET /v1/usage with a caller token pasted in (kept at most in the tab's session storage). Same-origin CSP, no inline code.",
    auth: { kind: "none" },
    success: { status: 200, description: "An HTML page.", contentType: "text/html" },
    errors: [],
    staticFile: true,
  },
  {
    method: "get",
    path: "/usage.js",
    operationId: "usageScript",
    tag: "Service",
    summary: "The usage page's script",
    auth: { kind: "none" },
    success: { status: 200, description: "JavaScript loaded by the usage page.", contentType: "text/javascript" },
    errors: [],
    staticFile: true,
  },
  {
    method: "get",
    path: "/usage.css",
    operationId: "usageStyle",
    tag: "Service",
    summary: "The usage page's style",
    auth: { kind: "none" },
    success: { status: 200, description: "CSS loaded by the usage page.", contentType: "text/css" },
    errors: [],
    staticFile: true,
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openApiDocument",
    tag: "Service",
    summary: "This document",
    auth: { kind: "none" },
    success: { status: 200, description: "The OpenAPI 3.1 description of turnvend.", contentType: "application/json" },
    errors: [],
    staticFile: true,
  },
  {
    method: "get",
    path: "/ice-servers.js",
    operationId: "iceServersHelper",
    tag: "Service",
    summary: "The browser helper",
    description:
      "A dependency-free ES module exporting `getIceServers({ url, token })` and `keepFresh(pc, { url, getToken, refreshBeforeMs })`.",
    auth: { kind: "none" },
    success: { status: 200, description: "JavaScript (an ES module).", contentType: "text/javascript" },
    errors: [],
    staticFile: true,
  },
];
