// One small retry loop for work that must not be given up after one failure (storing a secret, deleting
// a key that must not stay, recording a credential). Upstream calls have their own loop in
// src/upstream/request.ts, because theirs is bounded by the request's budget and decides on HTTP statuses.

export interface RetryPolicy {
  attempts: number;
  /** Wait before attempt `n + 1`, after attempt `n` failed. */
  delayMs: (attempt: number) => number;
  /** Stops at once, rethrowing, when this says a failure is final. */
  isFinal?: (err: unknown) => boolean;
  /** Called after each failed attempt that will be retried. */
  onRetry?: (attempt: number, err: unknown) => void;
}

/** Runs `work` until it succeeds or the attempts are used up; the last failure is rethrown. */
export async function retry<T>(work: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= policy.attempts || policy.isFinal?.(err)) throw err;
      policy.onRetry?.(attempt, err);
      await new Promise((resolve) => setTimeout(resolve, policy.delayMs(attempt)));
    }
  }
}
