// What each failure kind becomes on the wire: its HTTP status and its stable v4 error code. Codes and
// meanings are listed in README.md ("Errors"); the typed client reads them back from here.
import type { Failure, FailureKind } from "../errors";

export const ERRORS = {
  invalid_request: { status: 400, code: 10001 },
  invalid_json: { status: 400, code: 10002 },
  unknown_field: { status: 400, code: 10003 },
  invalid_key_id: { status: 400, code: 10004 },
  invalid_ttl: { status: 400, code: 10005 },
  unauthorized: { status: 401, code: 10010 },
  forbidden: { status: 403, code: 10011 },
  account_mismatch: { status: 403, code: 10012 },
  origin_not_allowed: { status: 403, code: 10013 },
  route_not_found: { status: 404, code: 10020 },
  key_not_found: { status: 404, code: 10021 },
  method_not_allowed: { status: 405, code: 10022 },
  conflict: { status: 409, code: 10023 },
  payload_too_large: { status: 413, code: 10024 },
  unsupported_media_type: { status: 415, code: 10025 },
  idempotency_mismatch: { status: 422, code: 10026 },
  secret_mismatch: { status: 422, code: 10027 },
  quota_exceeded: { status: 429, code: 10028 },
  rate_limited: { status: 429, code: 10029 },
  upstream_rejected: { status: 400, code: 10030 },
  upstream_error: { status: 502, code: 10031 },
  upstream_unavailable: { status: 503, code: 10032 },
  not_configured: { status: 503, code: 10033 },
  custody_failure: { status: 503, code: 10034 },
  no_active_key: { status: 503, code: 10035 },
  ledger_unavailable: { status: 503, code: 10036 },
  identity_provider_unavailable: { status: 503, code: 10037 },
  account_state_unavailable: { status: 503, code: 10038 },
  user_egress_blocked: { status: 429, code: 10039 },
  account_budget_exceeded: { status: 503, code: 10040 },
  vending_stopped: { status: 503, code: 10041 },
  internal_error: { status: 500, code: 10099 },
} as const satisfies Record<FailureKind, { status: number; code: number }>;

/** Codes of notes in a success envelope's `messages`. */
export const MESSAGE_CODES = {
  /** A capped revocation left outstanding credentials for another call. */
  revoke_incomplete: 10050,
  /** The caller's allowance of Cloudflare refreshes is spent: the answer is turnvend's cached copy. */
  refresh_refused: 10051,
} as const;

/** Statuses a kind can leave with besides its default (listed in the OpenAPI document). */
export const OTHER_STATUSES: Partial<Record<FailureKind, number[]>> = {
  // Cloudflare's own 409 and 422 are passed on (src/upstream/request.ts).
  upstream_rejected: [409, 422],
  // A body that stopped arriving: 408 Request Timeout (RFC 9110 §15.5.9).
  invalid_request: [408],
};

/** The HTTP status a failure is answered with. */
export function statusOf(failure: Failure): number {
  if (failure.kind === "upstream_rejected" && failure.upstreamStatus !== undefined) return failure.upstreamStatus;
  if (failure.detail === "body_timeout") return 408;
  return ERRORS[failure.kind].status;
}
