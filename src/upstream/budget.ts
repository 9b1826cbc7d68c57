// A per-request allowance of upstream attempts and time, so retries can never run away.
import { UPSTREAM_ATTEMPT_BUDGET, UPSTREAM_DEADLINE_MS, UPSTREAM_TIMEOUT_MS } from "../constants";

export class UpstreamBudget {
  private attempts = 0;
  private readonly deadline: number;

  constructor(
    /** Longest a single attempt may wait for an answer. */
    readonly attemptTimeoutMs = UPSTREAM_TIMEOUT_MS,
    private readonly maxAttempts = UPSTREAM_ATTEMPT_BUDGET,
    deadlineMs = UPSTREAM_DEADLINE_MS,
  ) {
    this.deadline = Date.now() + deadlineMs;
  }

  /** Claims one attempt; false when the request has used its allowance. */
  take(): boolean {
    if (this.attempts >= this.maxAttempts || this.remainingMs() <= 0) return false;
    this.attempts++;
    return true;
  }

  remainingMs(): number {
    return this.deadline - Date.now();
  }

  get used(): number {
    return this.attempts;
  }
}
