// The breaker on Cloudflare's credential API, for the modes with a fallback (failover, both). After
// VEND_BREAKER_FAILURES failed credential calls in a row, vends skip Cloudflare for VEND_BREAKER_OPEN_MS and
// go straight to the self-hosted provider; then one vend probes Cloudflare (the others keep skipping), and its
// success closes the breaker, its failure opens it again.
//
// Per isolate, on purpose: the hot path reads and writes a few numbers in memory, with no object request
// (a vend makes one call, to the user's object). Each isolate learns of an outage from its own failures,
// which costs each at most VEND_BREAKER_FAILURES deadlines, and probes on its own. The account object's v4
// breaker is a different thing: it guards the account's shared v4 rate limit, which every isolate spends.
import { VEND_BREAKER_FAILURES, VEND_BREAKER_OPEN_MS } from "../constants";
import { log } from "../observability/log";

/** What one vend may do: call Cloudflare, call it as the one probe of an open breaker, or skip it. */
export type BreakerAdmission = "call" | "probe" | "skip";

export interface BreakerView {
  state: "closed" | "open" | "half_open";
  consecutive_failures: number;
  /** Seconds until the next probe may go; 0 when closed or half open. */
  open_seconds: number;
}

export class CredentialBreaker {
  private failures = 0;
  private openUntil = 0;
  // When the probe in flight was admitted, or null. A probe not heard of within an open period was lost: Workers
  // cancels a request's work when its client hangs up, so its record() never runs, and the next vend probes.
  private probingSince: number | null = null;

  /** Milliseconds since the epoch; a test may move it. */
  constructor(public clock: () => number = Date.now) {}

  admit(): BreakerAdmission {
    if (this.openUntil === 0) return "call";
    const now = this.clock();
    if (now < this.openUntil) return "skip";
    if (this.probingSince !== null && now - this.probingSince < VEND_BREAKER_OPEN_MS) return "skip";
    this.probingSince = now;
    return "probe";
  }

  /** The outcome of a vend admitted with `admission`: "ok", "failed", or "none" when it never reached Cloudflare. */
  record(admission: BreakerAdmission, outcome: "ok" | "failed" | "none"): void {
    if (admission === "skip") return;
    if (admission === "probe") this.probingSince = null;
    if (outcome === "none") return;
    if (outcome === "ok") {
      if (this.openUntil !== 0) log("vend.breaker_closed", { after_failures: this.failures });
      this.failures = 0;
      this.openUntil = 0;
      return;
    }
    this.failures += 1;
    if (admission === "probe" || this.failures >= VEND_BREAKER_FAILURES) {
      this.openUntil = this.clock() + VEND_BREAKER_OPEN_MS;
      log("vend.breaker_opened", { failures: this.failures, open_ms: VEND_BREAKER_OPEN_MS });
    }
  }

  view(): BreakerView {
    if (this.openUntil === 0) return { state: "closed", consecutive_failures: this.failures, open_seconds: 0 };
    const left = this.openUntil - this.clock();
    return {
      state: left > 0 ? "open" : "half_open",
      consecutive_failures: this.failures,
      open_seconds: Math.max(0, Math.ceil(left / 1000)),
    };
  }

  /** Back to closed: a new configuration, or a test starting clean. */
  reset(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.probingSince = null;
  }
}

/** This isolate's breaker. */
export const credentialBreaker = new CredentialBreaker();
