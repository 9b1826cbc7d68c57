// The single exit for every failure: an ApiError becomes its envelope; anything else is logged and
// becomes a generic 500 that reveals nothing.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app-env";
import { ApiError, errorEnvelope } from "./errors";
import { log } from "../observability/log";
import { DEFAULT_RETRY_AFTER_SECONDS } from "../constants";

export function onError(err: Error, c: Context<AppEnv>): Response {
  const apiError = toApiError(err, c);
  // Every 5xx tells the client when to try again; a failure that named no wait gets the default.
  const retryAfter = apiError.retryAfterSeconds ?? (apiError.status >= 500 ? DEFAULT_RETRY_AFTER_SECONDS : undefined);
  if (retryAfter !== undefined) c.header("Retry-After", String(retryAfter));
  if (apiError.status >= 500) {
    log("request.failed", {
      request_id: c.get("requestId"),
      kind: apiError.kind,
      status: apiError.status,
      detail: apiError.detail,
    });
  }
  return c.json(errorEnvelope([{ code: apiError.code, message: apiError.message }]), apiError.status as 400);
}

function toApiError(err: Error, c: Context<AppEnv>): ApiError {
  if (err instanceof ApiError) return err;
  // Hono raises HTTPException for malformed input it parses itself; keep its 4xx status.
  if (err instanceof HTTPException && err.status < 500)
    return new ApiError("invalid_request", "the request is malformed", { status: err.status });
  log("request.bug", { request_id: c.get("requestId"), error: err.name });
  return new ApiError("internal_error", "turnvend hit an unexpected error; the request id identifies it in the logs");
}
