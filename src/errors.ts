// The one vocabulary of failure, below every layer that raises one. Code that fails throws a Failure with
// a kind; code that decides on a failure reads its kind and, where it must, its typed detail. Only the
// HTTP layer (src/http/codes.ts) knows what status and v4 code each kind becomes.

/** Every way a request can fail. README.md ("Errors") lists the code and meaning of each. */
export const FAILURE_KINDS = [
  "invalid_request",
  "invalid_json",
  "unknown_field",
  "invalid_key_id",
  "invalid_ttl",
  "unauthorized",
  "forbidden",
  "account_mismatch",
  "origin_not_allowed",
  "route_not_found",
  "key_not_found",
  "method_not_allowed",
  "conflict",
  "payload_too_large",
  "unsupported_media_type",
  "idempotency_mismatch",
  "secret_mismatch",
  "rate_limited",
  "quota_exceeded",
  "upstream_rejected",
  "upstream_error",
  "upstream_unavailable",
  "not_configured",
  "custody_failure",
  "no_active_key",
  "identity_provider_unavailable",
  "ledger_unavailable",
  "account_state_unavailable",
  "user_egress_blocked",
  "account_budget_exceeded",
  "vending_stopped",
  "internal_error",
] as const;

export type FailureKind = (typeof FAILURE_KINDS)[number];

/**
 * Why a failure happened, where code decides on it: an upstream call that `timeout`s or loses its
 * `network` may still have taken effect; `body_timeout` is a request body that stopped arriving. The rest
 * say which guard refused, for the logs.
 */
export type FailureDetail =
  | "timeout"
  | "network"
  | "budget_exhausted"
  | "v4_budget_spent"
  | "breaker_open"
  | "rate_limited"
  | "credentials_refused"
  | "stale_too_old"
  | "refresh_refused"
  | "body_timeout";

export interface FailureOptions {
  /** Seconds the client should wait before trying again (sent as Retry-After). */
  retryAfterSeconds?: number;
  detail?: FailureDetail;
  /** The status Cloudflare answered with, where turnvend passes a meaningful one on (400, 409, 422). */
  upstreamStatus?: number;
}

/** An expected failure with a public message: safe to show a client, never holding a secret. */
export class Failure extends Error {
  readonly kind: FailureKind;
  readonly retryAfterSeconds?: number;
  readonly detail?: FailureDetail;
  readonly upstreamStatus?: number;

  constructor(kind: FailureKind, message: string, opts: FailureOptions = {}) {
    super(message);
    this.name = "Failure";
    this.kind = kind;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.detail = opts.detail;
    this.upstreamStatus = opts.upstreamStatus;
  }
}

/** A Failure as plain data, to cross an RPC boundary (a Durable Object's answer) and become one again. */
export interface FailureData {
  kind: FailureKind;
  message: string;
  retryAfterSeconds?: number;
  detail?: FailureDetail;
  upstreamStatus?: number;
}

export function toFailureData(failure: Failure): FailureData {
  const data: FailureData = { kind: failure.kind, message: failure.message };
  if (failure.retryAfterSeconds !== undefined) data.retryAfterSeconds = failure.retryAfterSeconds;
  if (failure.detail !== undefined) data.detail = failure.detail;
  if (failure.upstreamStatus !== undefined) data.upstreamStatus = failure.upstreamStatus;
  return data;
}

export function fromFailureData(data: FailureData): Failure {
  return new Failure(data.kind, data.message, {
    retryAfterSeconds: data.retryAfterSeconds,
    detail: data.detail,
    upstreamStatus: data.upstreamStatus,
  });
}

/** True when `err` is a Failure of this kind. */
export function isFailure(err: unknown, kind: FailureKind): err is Failure {
  return err instanceof Failure && err.kind === kind;
}
