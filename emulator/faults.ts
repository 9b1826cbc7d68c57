import { isRouteName } from "./calls.ts";
import type { RouteName } from "./calls.ts";

/** What an injected fault does to one call. Effects combine: delay first, then status or malformed body. */
export type FaultEffect = {
  /** Answer with this HTTP status (400-599) instead of running the route. */
  status?: number;
  /** Sets `Retry-After` (seconds) on the response, faulted or not. */
  retryAfter?: number;
  /** Wait this long before answering (normally, or with `status` / `malformed`). */
  delayMs?: number;
  /** Never answer; the request stays open until the client aborts it. */
  hang?: boolean;
  /** Do the work (e.g. really create the key), then never answer: an outcome the client cannot know. */
  loseReply?: boolean;
  /** Answer with the route's success status but a body that is not JSON (`true`/"json") or not the expected shape. */
  malformed?: boolean | "json" | "shape";
  /** GraphQL only: answer 200 with `{ data: null, errors: [...] }`, as Cloudflare's GraphQL API reports failures. */
  graphqlErrors?: boolean;
  /** Overrides the v4 error code / message (or the rtc `error` text) of a `status` fault. */
  code?: number;
  message?: string;
};

/** A queued fault: used by the next `remaining` calls (-1 = every call until reset), or hit with probability `rate`. */
export type QueuedFault = FaultEffect & { remaining: number; rate?: number };

export type FaultTarget = RouteName | "*";

export type FaultQueue = Map<FaultTarget, QueuedFault[]>;

/** The JSON body of `POST /__emulator/faults` (one object or an array of them). */
export type FaultRequest = FaultEffect & { route: FaultTarget; count?: number; rate?: number };

// An hour is far beyond any client timeout the worker uses; bounding it keeps a typo from pinning a socket forever.
const MAX_DELAY_MS = 3_600_000;

export function createFaultQueue(): FaultQueue {
  return new Map();
}

type Parsed = { ok: true; route: FaultTarget; fault: QueuedFault } | { ok: false; error: string };

/** Validates one fault request; errors name the offending field so a test author sees their mistake at once. */
export function parseFaultRequest(input: unknown): Parsed {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, error: "a fault must be a JSON object" };
  }
  const o = input as Record<string, unknown>;
  const route = o["route"];
  if (route !== "*" && !isRouteName(route)) return { ok: false, error: 'route must be a known route name or "*"' };

  const fault: QueuedFault = { remaining: 1 };
  const count = o["count"];
  if (count !== undefined) {
    if (!Number.isInteger(count) || ((count as number) < 1 && count !== -1)) {
      return { ok: false, error: "count must be a positive integer, or -1 for every call until reset" };
    }
    fault.remaining = count as number;
  }
  const rate = o["rate"];
  if (rate !== undefined) {
    if (typeof rate !== "number" || !(rate >= 0 && rate <= 1)) return { ok: false, error: "rate must be in [0, 1]" };
    // A rate fault is a standing condition (load tests), so it never runs out.
    fault.rate = rate;
    fault.remaining = -1;
  }
  const status = o["status"];
  if (status !== undefined) {
    if (!Number.isInteger(status) || (status as number) < 400 || (status as number) > 599) {
      return { ok: false, error: "status must be an integer in [400, 599]" };
    }
    fault.status = status as number;
  }
  const retryAfter = o["retryAfter"];
  if (retryAfter !== undefined) {
    if (!Number.isInteger(retryAfter) || (retryAfter as number) < 0) {
      return { ok: false, error: "retryAfter must be a non-negative integer (seconds)" };
    }
    fault.retryAfter = retryAfter as number;
  }
  const delayMs = o["delayMs"];
  if (delayMs !== undefined) {
    if (typeof delayMs !== "number" || !(delayMs >= 0 && delayMs <= MAX_DELAY_MS)) {
      return { ok: false, error: `delayMs must be a number in [0, ${MAX_DELAY_MS}]` };
    }
    fault.delayMs = delayMs;
  }
  const loseReply = o["loseReply"];
  if (loseReply !== undefined) {
    if (typeof loseReply !== "boolean") return { ok: false, error: "loseReply must be a boolean" };
    fault.loseReply = loseReply;
  }
  const hang = o["hang"];
  if (hang !== undefined) {
    if (typeof hang !== "boolean") return { ok: false, error: "hang must be a boolean" };
    fault.hang = hang;
  }
  const malformed = o["malformed"];
  if (malformed !== undefined) {
    if (typeof malformed !== "boolean" && malformed !== "json" && malformed !== "shape") {
      return { ok: false, error: 'malformed must be a boolean, "json" or "shape"' };
    }
    fault.malformed = malformed;
  }
  const graphqlErrors = o["graphqlErrors"];
  if (graphqlErrors !== undefined) {
    if (typeof graphqlErrors !== "boolean") return { ok: false, error: "graphqlErrors must be a boolean" };
    fault.graphqlErrors = graphqlErrors;
  }
  const code = o["code"];
  if (code !== undefined) {
    if (!Number.isInteger(code)) return { ok: false, error: "code must be an integer" };
    fault.code = code as number;
  }
  const message = o["message"];
  if (message !== undefined) {
    if (typeof message !== "string") return { ok: false, error: "message must be a string" };
    fault.message = message;
  }
  if (
    !fault.status &&
    !fault.delayMs &&
    !fault.hang &&
    !fault.loseReply &&
    !fault.malformed &&
    !fault.graphqlErrors &&
    fault.retryAfter === undefined
  ) {
    return {
      ok: false,
      error: "a fault needs at least one of status, delayMs, hang, loseReply, malformed, graphqlErrors, retryAfter",
    };
  }
  return { ok: true, route, fault };
}

export function enqueueFault(queue: FaultQueue, route: FaultTarget, fault: QueuedFault): void {
  const list = queue.get(route) ?? [];
  list.push(fault);
  queue.set(route, list);
}

/**
 * The fault the current call to `route` should suffer, if any. Route-specific faults go before "*" ones, each
 * queue in arrival order; a rate fault that does not fire lets the call fall through to the next entry.
 */
export function takeFault(
  queue: FaultQueue,
  route: RouteName,
  random: () => number = Math.random,
): FaultEffect | undefined {
  for (const target of [route, "*"] as const) {
    const list = queue.get(target);
    if (!list) continue;
    for (let i = 0; i < list.length; i++) {
      const fault = list[i]!;
      if (fault.rate !== undefined) {
        if (random() < fault.rate) return fault;
        continue;
      }
      if (fault.remaining > 0) {
        fault.remaining -= 1;
        if (fault.remaining === 0) list.splice(i, 1);
      }
      return fault;
    }
  }
  return undefined;
}

/** Pending faults as plain JSON, for `GET /__emulator/faults`. */
export function faultsSnapshot(queue: FaultQueue): Record<string, QueuedFault[]> {
  return Object.fromEntries([...queue].filter(([, list]) => list.length > 0));
}
