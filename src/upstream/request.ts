// The one way turnvend talks to Cloudflare: a timeout on every call, no redirects followed, bounded
// retries for idempotent calls only, the response validated, and failures mapped on purpose.
// Upstream bodies never reach a client.
import * as v from "valibot";
import {
  RATE_LIMIT_DEFAULT_RETRY_AFTER_SECONDS,
  RATE_LIMIT_MAX_RETRY_AFTER_SECONDS,
  UPSTREAM_BACKOFF_BASE_MS,
  UPSTREAM_IDEMPOTENT_ATTEMPTS,
} from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { UpstreamBudget } from "./budget";

export interface UpstreamRequest {
  /** Stable name for logs and errors, e.g. "turn_keys.get". */
  route: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  url: string;
  bearer: string;
  body?: unknown;
  /**
   * Safe to repeat: GETs and credential generation. Create, update and delete are never retried
   * blindly, since a lost answer does not mean the change did not happen.
   */
  idempotent: boolean;
  budget: UpstreamBudget;
  /**
   * Runs before each attempt and throws to refuse it (the v4 budget and breaker, src/upstream/v4-budget.ts).
   * A refused first attempt throws its refusal; a refused retry ends the loop with the last answer.
   */
  beforeAttempt?: () => Promise<void>;
}

export interface UpstreamResponse {
  status: number;
  data: unknown;
  headers: Headers;
}

/** Sends a request, retrying idempotent ones on timeouts, network errors and 5xx within the budget. */
export async function sendUpstream(req: UpstreamRequest): Promise<UpstreamResponse> {
  const attempts = req.idempotent ? UPSTREAM_IDEMPOTENT_ATTEMPTS : 1;
  let previous: UpstreamResponse | Failure | undefined;
  for (let attempt = 1; ; attempt++) {
    if (!req.budget.take()) {
      throw new Failure("upstream_unavailable", "Cloudflare did not answer in time; try again shortly", {
        detail: "budget_exhausted",
      });
    }
    if (req.beforeAttempt) {
      try {
        await req.beforeAttempt();
      } catch (refused) {
        if (previous === undefined) throw refused;
        if (previous instanceof Failure) throw previous;
        return previous;
      }
    }
    const outcome = await attemptOnce(req);
    previous = outcome;
    const retryable = outcome instanceof Failure || outcome.status >= 500;
    const backoff = UPSTREAM_BACKOFF_BASE_MS * 2 ** (attempt - 1) * (0.5 + Math.random());
    if (!retryable || attempt >= attempts || req.budget.remainingMs() < backoff + req.budget.attemptTimeoutMs / 2) {
      if (outcome instanceof Failure) throw outcome;
      return outcome;
    }
    log("upstream.retry", { route: req.route, attempt, status: outcome instanceof Failure ? 0 : outcome.status });
    await new Promise((r) => setTimeout(r, backoff));
  }
}

/** One attempt. A timeout or network failure comes back as the 503 to throw, not as an exception. */
async function attemptOnce(req: UpstreamRequest): Promise<UpstreamResponse | Failure> {
  // A timer cleared once the answer is read, not AbortSignal.timeout: a pending timer keeps a Durable Object
  // running (it cannot hibernate), and an answered call has no reason to.
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new DOMException("upstream attempt timed out", "TimeoutError")),
    Math.max(1, Math.min(req.budget.attemptTimeoutMs, req.budget.remainingMs())),
  );
  try {
    return await exchange(req, deadline.signal);
  } finally {
    clearTimeout(timer);
  }
}

async function exchange(req: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse | Failure> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: {
        authorization: `Bearer ${req.bearer}`,
        ...(req.body === undefined ? {} : { "content-type": "application/json" }),
        accept: "application/json",
      },
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      redirect: "manual",
      signal,
    });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    log("upstream.unreachable", { route: req.route, reason: timedOut ? "timeout" : "network" });
    return new Failure("upstream_unavailable", "Cloudflare did not answer in time; try again shortly", {
      detail: timedOut ? "timeout" : "network",
    });
  }
  if (res.status === 204) return { status: 204, data: null, headers: res.headers };
  let data: unknown = null;
  const text = await res.text().catch(() => "");
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  return { status: res.status, data, headers: res.headers };
}

/** True when the call may have reached Cloudflare but its answer was lost. */
export function outcomeUnknown(err: unknown): boolean {
  return (
    err instanceof Failure &&
    err.kind === "upstream_unavailable" &&
    (err.detail === "timeout" || err.detail === "network")
  );
}

/** Validates a successful response body, or throws the 502 for an invalid one. */
export function expectShape<S extends v.GenericSchema>(route: string, schema: S, data: unknown): v.InferOutput<S> {
  const parsed = v.safeParse(schema, data);
  if (parsed.success) return parsed.output;
  log("upstream.invalid_response", { route });
  throw new Failure("upstream_error", "Cloudflare returned a response turnvend could not understand");
}

/** Seconds to wait from a 429's Retry-After (at most an hour), or Cloudflare's documented 5-minute block. */
export function retryAfterSeconds(res: UpstreamResponse): number {
  const value = Number(res.headers.get("retry-after"));
  if (!Number.isFinite(value) || value <= 0) return RATE_LIMIT_DEFAULT_RETRY_AFTER_SECONDS;
  return Math.min(Math.ceil(value), RATE_LIMIT_MAX_RETRY_AFTER_SECONDS);
}

/**
 * Maps a failed upstream status to turnvend's answer. Meaningful client errors are kept (404, 400, 409,
 * 422); a refused account token is turnvend's problem, not the caller's, so it is a 502; 429 and 5xx
 * say "try later".
 */
export function upstreamFailure(route: string, res: UpstreamResponse): Failure {
  const status = res.status;
  log("upstream.failed", { route, status });
  if (status === 404) return new Failure("key_not_found", "no TURN key with that id exists in this account");
  if (status === 429) {
    return new Failure("upstream_unavailable", "Cloudflare is rate limiting this account; try again later", {
      retryAfterSeconds: retryAfterSeconds(res),
      detail: "rate_limited",
    });
  }
  if (status === 401 || status === 403) {
    return new Failure(
      "upstream_error",
      "Cloudflare refused turnvend's account credentials; the operator must check them",
      {
        detail: "credentials_refused",
      },
    );
  }
  if (status === 400 || status === 409 || status === 422) {
    return new Failure("upstream_rejected", "Cloudflare rejected the request", { upstreamStatus: status });
  }
  if (status >= 300 && status < 400) {
    return new Failure("upstream_error", "Cloudflare answered with an unexpected redirect");
  }
  return new Failure("upstream_error", "Cloudflare failed to handle the request; try again shortly");
}
