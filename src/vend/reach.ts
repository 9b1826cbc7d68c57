// Calls to the Durable Objects (src/objects/), from the vend and revoke functions.
import { DEFAULT_RETRY_AFTER_SECONDS } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";

/**
 * Calls one of the Durable Objects. When it cannot be reached (or throws), the request fails with 503 and
 * Retry-After, never 500: nothing was issued, and no upstream call was made on the object's behalf. When it
 * does not answer in time (the vend's bound), the same 503; a set it still records then stays in its ledger.
 */
export async function reach<T>(what: "user_ledger" | "username_index", call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof Failure) throw err;
    log("object.unreachable", { object: what, error: err instanceof Error ? err.message.slice(0, 200) : "unknown" });
    throw new Failure("ledger_unavailable", "turnvend's credential ledger is unavailable; try again shortly", {
      retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
    });
  }
}
