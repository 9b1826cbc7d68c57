// The account-wide half of the bill's guard on the vend path: the kill switch and the account budget, read
// from this isolate's memory of the account object's state (src/storage/guard-memory.ts). The per-user half
// (a user over budget, a suspected leak) is checked by the user's own object within the vend's one call.
import { BYTES_PER_GB, GUARD_RETRY_AFTER_SECONDS } from "../constants";
import { Failure } from "../errors";
import type { AccountStateClient } from "../storage/account-state-client";
import { recentGuard } from "../storage/guard-memory";
import type { GuardView } from "../storage/usage-api";

/** Throws the 503 of a stopped account; returns when vending is open (or the state cannot be known). */
export async function assertVendingOpen(
  account: AccountStateClient,
  keepAlive?: (work: Promise<unknown>) => void,
): Promise<void> {
  const guard = await recentGuard(account, keepAlive);
  if (guard?.vending === "stopped") throw stopped(guard);
}

export function stopped(guard: GuardView): Failure {
  if (guard.reason === "kill_switch") {
    return new Failure("vending_stopped", "an operator has stopped credential vending (kill switch); try again later", {
      retryAfterSeconds: GUARD_RETRY_AFTER_SECONDS,
    });
  }
  const gb = (bytes: number) => `${Math.round((bytes / BYTES_PER_GB) * 100) / 100} GB`;
  return new Failure(
    "account_budget_exceeded",
    `the account's TURN egress this month (${gb(guard.month_egress_bytes)}) has reached its budget, EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH (${gb(guard.budget_bytes ?? 0)}); vending is stopped until the month ends or an operator lifts the stop`,
    { retryAfterSeconds: GUARD_RETRY_AFTER_SECONDS },
  );
}
