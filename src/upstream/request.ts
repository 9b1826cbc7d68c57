// The one way turnvend talks to Cloudflare: a timeout on every call, no redirects followed, the
// response validated, and failures mapped on purpose. Upstream bodies never reach a client.
import * as v from "valibot";
import { UPSTREAM_TIMEOUT_MS } from "../constants";
import { ApiError } from "../http/errors";
import { log } from "../observability/log";

export interface UpstreamRequest {
  /** Stable name for logs and errors, e.g. "turn_keys.get". */
  route: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  url: string;
  bearer: string;
  body?: unknown;
  timeoutMs?: number;
}

export interface UpstreamResponse {
  status: number;
  data: unknown;
  headers: Headers;
}

/** Sends one request. Network failures and timeouts become 503; non-JSON bodies become 502. */
export async function sendUpstream(req: UpstreamRequest): Promise<UpstreamResponse> {
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
      signal: AbortSignal.timeout(req.timeoutMs ?? UPSTREAM_TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    log("upstream.unreachable", { route: req.route, reason: timedOut ? "timeout" : "network" });
    throw new ApiError("upstream_unavailable", "Cloudflare did not answer in time; try again shortly", {
      retryAfterSeconds: 5,
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

/** Validates a successful response body, or throws the 502 for an invalid one. */
export function expectShape<S extends v.GenericSchema>(route: string, schema: S, data: unknown): v.InferOutput<S> {
  const parsed = v.safeParse(schema, data);
  if (parsed.success) return parsed.output;
  log("upstream.invalid_response", { route });
  throw new ApiError("upstream_error", "Cloudflare returned a response turnvend could not understand");
}

/**
 * Maps a failed upstream status to turnvend's answer. Meaningful client errors are kept (404, 400, 409,
 * 422); a refused account token is turnvend's problem, not the caller's, so it is a 502; 429 and 5xx
 * say "try later".
 */
export function upstreamFailure(route: string, res: UpstreamResponse): ApiError {
  const status = res.status;
  log("upstream.failed", { route, status });
  if (status === 404) return new ApiError("key_not_found", "no TURN key with that id exists in this account");
  if (status === 429) {
    const retryAfter = Number(res.headers.get("retry-after"));
    return new ApiError("upstream_unavailable", "Cloudflare is rate limiting this account; try again later", {
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : 300,
    });
  }
  if (status === 401 || status === 403) {
    return new ApiError("upstream_error", "Cloudflare refused turnvend's account credentials; the operator must check them");
  }
  if (status === 400 || status === 409 || status === 422) {
    return new ApiError("upstream_rejected", "Cloudflare rejected the request", { status });
  }
  if (status >= 300 && status < 400) {
    return new ApiError("upstream_error", "Cloudflare answered with an unexpected redirect");
  }
  return new ApiError("upstream_error", "Cloudflare failed to handle the request; try again shortly", { retryAfterSeconds: 5 });
}
