// The account-wide guard state (kill switch, account budget) as this isolate last read it from the account
// object, trusted for GUARD_MEMORY_MS: a vend reads it from memory and adds no I/O of its own, and an
// isolate asks the account object at most once per that long (concurrent askers share one call). The
// isolate that changes the guard (PUT /v1/guard) remembers the new state at once.
import { ACCOUNT_READ_ON_VEND_TIMEOUT_MS, GUARD_MEMORY_MS } from "../constants";
import { log } from "../observability/log";
import { bounded, shareFlight } from "../single-flight";
import type { AccountStateClient } from "./account-state-client";
import type { GuardView } from "./usage-api";

let memory: { view: GuardView; at: number } | undefined;

/**
 * The guard state, at most GUARD_MEMORY_MS old; when the account object cannot be reached, or does not answer
 * within ACCOUNT_READ_ON_VEND_TIMEOUT_MS, the last state read (however old), or undefined when none ever was:
 * then nothing is stopped, since an outage of turnvend's own state is no reason to stop vending.
 */
export async function recentGuard(
  account: AccountStateClient,
  keepAlive: (work: Promise<unknown>) => void = () => {},
): Promise<GuardView | undefined> {
  const now = Date.now();
  if (memory && now - memory.at < GUARD_MEMORY_MS) return memory.view;
  try {
    // The isolate's one read, remembered whenever it answers; this vend waits for it only briefly.
    const flight = shareFlight(
      "guard-state",
      GUARD_MEMORY_MS,
      () =>
        account.guardState().then((view) => {
          rememberGuard(view);
          return view;
        }),
      () => new Error("guard state timed out"),
    );
    // Outlives this request when it answers first (waitUntil), so its answer is remembered all the same.
    keepAlive(flight.catch(() => {}));
    return await bounded(flight, ACCOUNT_READ_ON_VEND_TIMEOUT_MS, () => new Error("guard state timed out"));
  } catch {
    log("guard.state_unavailable", { known: memory !== undefined });
    return memory?.view;
  }
}

export function rememberGuard(view: GuardView): void {
  memory = { view, at: Date.now() };
}

/** Forgets the state (tests; another isolate starts with none). */
export function forgetGuardMemory(): void {
  memory = undefined;
}
