// The single exit for every failure: a Failure becomes its status and v4 envelope; anything else is
// logged and becomes a generic 500 that reveals nothing.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { DEFAULT_RETRY_AFTER_SECONDS } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { AppEnv } from "./app-env";
import { ERRORS, statusOf } from "./codes";
import { errorEnvelope } from "./envelope";

export function onError(err: Error, c: Context<AppEnv>): Response {
  const failure = toFailure(err, c);
  const status = err instanceof HTTPException && err.status < 500 ? err.status : statusOf(failure);
  // Every 5xx tells the client when to try again; a failure that named no wait gets the default.
  const retryAfter = failure.retryAfterSeconds ?? (status >= 500 ? DEFAULT_RETRY_AFTER_SECONDS : undefined);
  if (retryAfter !== undefined) c.header("Retry-After", String(retryAfter));
  if (status >= 500) {
    log("request.failed", { request_id: c.get("requestId"), kind: failure.kind, status, detail: failure.detail });
  }
  return c.json(errorEnvelope([{ code: ERRORS[failure.kind].code, message: failure.message }]), status as 400);
}

function toFailure(err: Error, c: Context<AppEnv>): Failure {
  if (err instanceof Failure) return err;
  // Hono raises HTTPException for malformed input it parses itself; its 4xx status is kept.
  if (err instanceof HTTPException && err.status < 500)
    return new Failure("invalid_request", "the request is malformed");
  log("request.bug", { request_id: c.get("requestId"), error: err.name });
  return new Failure("internal_error", "turnvend hit an unexpected error; the request id identifies it in the logs");
}
