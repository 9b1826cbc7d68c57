// The one error vocabulary. Every failure leaves turnvend as an ApiError, rendered by the root onError
// in Cloudflare's v4 envelope with a stable code. Codes and meanings are listed in README.md ("Errors").

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
  rate_limited: { status: 429, code: 10029 },
  upstream_rejected: { status: 400, code: 10030 },
  upstream_error: { status: 502, code: 10031 },
  upstream_unavailable: { status: 503, code: 10032 },
  not_configured: { status: 503, code: 10033 },
  custody_failure: { status: 503, code: 10034 },
  no_active_key: { status: 503, code: 10035 },
  identity_provider_unavailable: { status: 503, code: 10037 },
  internal_error: { status: 500, code: 10099 },
} as const satisfies Record<string, { status: number; code: number }>;

export type ErrorKind = keyof typeof ERRORS;

/** An expected failure with a public message. `detail` goes to logs only, never to the client. */
export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly retryAfterSeconds?: number;
  readonly detail?: string;
  /** Overrides the kind's default status, e.g. to keep an upstream 409 a 409. */
  readonly statusOverride?: number;

  constructor(
    kind: ErrorKind,
    message: string,
    opts: { retryAfterSeconds?: number; detail?: string; status?: number } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.detail = opts.detail;
    this.statusOverride = opts.status;
  }

  get status(): number {
    return this.statusOverride ?? ERRORS[this.kind].status;
  }

  get code(): number {
    return ERRORS[this.kind].code;
  }
}

export interface V4Error {
  code: number;
  message: string;
}

/** The v4 failure envelope, exactly as Cloudflare shapes it. */
export function errorEnvelope(errors: V4Error[]) {
  return { success: false as const, errors, messages: [], result: null };
}

/** The v4 success envelope. */
export function successEnvelope<T>(result: T) {
  return { success: true as const, errors: [], messages: [], result };
}
