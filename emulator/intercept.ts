import type { MiddlewareHandler } from "hono";
import type { RouteName } from "./calls.ts";
import { v4Failure, v4FaultErrors } from "./envelope.ts";
import { takeFault } from "./faults.ts";
import type { FaultEffect } from "./faults.ts";
import type { EmulatorState } from "./state.ts";

/** Which upstream a route belongs to: decides the error body shape of an injected failure. */
export type Upstream = "v4" | "rtc" | "graphql";

/** The status each route answers with on success; a malformed-body fault reuses it so clients believe it. */
const SUCCESS_STATUS: Record<RouteName, 200 | 201 | 204> = {
  "turn_keys.list": 200,
  "turn_keys.create": 201,
  "turn_keys.get": 200,
  "turn_keys.update": 200,
  "turn_keys.delete": 200,
  "credentials.generate_ice_servers": 201,
  "credentials.generate": 201,
  "credentials.revoke": 204,
  graphql: 200,
};

/**
 * First middleware of every upstream route: counts the call (before auth, so "was upstream called at all?" can
 * be asserted), then applies the next queued fault, if any.
 */
export function intercept(state: EmulatorState, route: RouteName, upstream: Upstream): MiddlewareHandler {
  return async (c, next) => {
    state.calls[route] += 1;
    const fault = takeFault(state.faults, route);
    if (!fault) return next();

    const signal = c.req.raw.signal;
    if (fault.hang) {
      await untilAborted(signal);
      // Nobody reads this: the client is gone. Hono still needs a Response.
      return new Response(null, { status: 503 });
    }
    if (fault.loseReply) {
      await next();
      await untilAborted(signal);
      return new Response(null, { status: 503 });
    }
    if (fault.delayMs) {
      const aborted = await sleep(fault.delayMs, signal);
      if (aborted) return new Response(null, { status: 503 });
    }
    const headers = new Headers({ "content-type": "application/json" });
    if (fault.retryAfter !== undefined) headers.set("retry-after", String(fault.retryAfter));
    if (fault.malformed) return malformedResponse(route, upstream, fault.malformed, headers);
    // GraphQL reports its failures inside a 200, which a client that only checks the status takes for data.
    if (fault.graphqlErrors) {
      const message = fault.message ?? "emulated GraphQL failure";
      return new Response(JSON.stringify({ data: null, errors: [{ message, path: ["viewer"] }] }), {
        status: 200,
        headers,
      });
    }
    if (fault.status) return faultResponse(fault, fault.status, upstream, headers);
    // A delay-only (or Retry-After-only) fault: the route answers normally, late.
    if (fault.retryAfter !== undefined) c.header("Retry-After", String(fault.retryAfter));
    return next();
  };
}

function faultResponse(fault: FaultEffect, status: number, upstream: Upstream, headers: Headers): Response {
  const body =
    upstream === "rtc"
      ? { error: fault.message ?? `emulated upstream failure (HTTP ${status})` }
      : v4Failure(v4FaultErrors(status, fault.code, fault.message));
  return new Response(JSON.stringify(body), { status, headers });
}

function malformedResponse(
  route: RouteName,
  upstream: Upstream,
  kind: true | "json" | "shape",
  headers: Headers,
): Response {
  // 204 cannot carry a body, so a malformed revoke answers 200 with the junk instead.
  const status = SUCCESS_STATUS[route] === 204 ? 200 : SUCCESS_STATUS[route];
  if (kind === "shape") {
    // Valid JSON that a schema must reject: `result` is neither a key nor a list, `iceServers` is not ICE.
    const body =
      upstream === "v4"
        ? { success: true, errors: [], messages: [], result: { unexpected: true } }
        : upstream === "graphql"
          ? { data: { viewer: { accounts: "unexpected" } }, errors: null }
          : { iceServers: "unexpected" };
    return new Response(JSON.stringify(body), { status, headers });
  }
  // Truncated JSON under a JSON content type: what a proxy cutting the stream short produces.
  return new Response('{"success":true,"result":{"uid":', { status, headers });
}

function untilAborted(signal: AbortSignal): Promise<void> {
  // In runtimes whose request signal never fires this never resolves, which is what "hang" means anyway.
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Resolves true if the client aborted before `ms` passed, so a delayed call does not outlive its client. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(true);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
