// How a Worker's v4 call gets its token. The account object keeps the one bucket and the breaker
// (src/upstream/v4-bucket.ts); asking it for every call would add an object request to each, so an isolate
// takes read tokens a few at a time (V4_READ_LEASE_TOKENS) and spends them within V4_LEASE_TTL_MS. Writes
// take one token each, so the write reserve stays exact. The breaker as last seen is remembered per isolate:
// while it is open, a call is refused without asking the object.
import { V4_BUDGET_VIEW_MEMORY_MS, V4_LEASE_TTL_MS, V4_READ_LEASE_TOKENS } from "../constants";
import { log } from "../observability/log";
import { refusal, type V4BudgetView, type V4CallKind, type V4Grant } from "./v4-bucket";

/** What a v4 client needs from the budget, wherever it runs (a Worker isolate, or the account object itself). */
export interface V4Gate {
  /** Throws the 503 to answer while this isolate knows the breaker is open; asks nobody. */
  assertAvailable(): Promise<void>;
  /** Claims one call of `kind`, or throws the 503 to answer (breaker open, budget spent, object unreachable). */
  spend(kind: V4CallKind): Promise<void>;
  /** Cloudflare answered 429: hold every call for this long. */
  trip(retryAfterSeconds: number): Promise<void>;
}

/** The account object's side of the budget, as an isolate reaches it. */
export interface V4Allowance {
  lease(kind: V4CallKind, want: number): Promise<V4Grant>;
  trip(retryAfterSeconds: number): Promise<void>;
  view(): Promise<V4BudgetView>;
}

/**
 * This isolate's unspent read tokens, its copy of the breaker, and until when the object said reads get no
 * token (so a burst of refused reads costs one object request, not one each).
 */
const memory = { readTokens: 0, readTokensUntil: 0, openUntil: 0, readsRefusedUntil: 0 };
let lastView: { view: V4BudgetView; at: number } | undefined;

/** The gate of a Worker isolate: tokens leased from the account object. */
export class LeasedV4Gate implements V4Gate {
  constructor(
    private readonly allowance: V4Allowance,
    private readonly now: () => number = Date.now,
  ) {}

  async assertAvailable(): Promise<void> {
    const now = this.now();
    if (memory.openUntil > now) throw refusal({ granted: 0, openUntil: memory.openUntil, retryAfterMs: 0 }, now);
  }

  async spend(kind: V4CallKind): Promise<void> {
    const asked = this.now();
    if (memory.openUntil > asked) throw refusal({ granted: 0, openUntil: memory.openUntil, retryAfterMs: 0 }, asked);
    if (kind === "read" && memory.readTokens > 0 && memory.readTokensUntil > asked) {
      memory.readTokens--;
      return;
    }
    if (kind === "read" && memory.readsRefusedUntil > asked) {
      throw refusal({ granted: 0, openUntil: 0, retryAfterMs: memory.readsRefusedUntil - asked }, asked);
    }
    const grant = await this.allowance.lease(kind, kind === "read" ? V4_READ_LEASE_TOKENS : 1);
    memory.openUntil = grant.openUntil;
    const now = this.now();
    const refused = refusal(grant, now);
    if (refused) {
      if (kind === "read") memory.readsRefusedUntil = now + grant.retryAfterMs;
      throw refused;
    }
    if (kind === "read") {
      // Counted from before the lease was asked for: a token is never spent later than the bucket allows.
      memory.readTokens = grant.granted - 1;
      memory.readTokensUntil = asked + V4_LEASE_TTL_MS;
    }
  }

  async trip(retryAfterSeconds: number): Promise<void> {
    memory.openUntil = Math.max(memory.openUntil, this.now() + retryAfterSeconds * 1000);
    memory.readTokens = 0;
    log("upstream.breaker_opened", { retry_after_s: retryAfterSeconds });
    // This isolate holds calls either way; other isolates learn of it from the object at their next lease.
    await this.allowance.trip(retryAfterSeconds).catch(() => log("upstream.breaker_share_failed", {}));
  }
}

/** The budget as the account object last reported it to this isolate, at most V4_BUDGET_VIEW_MEMORY_MS ago. */
export async function recentBudgetView(allowance: V4Allowance, now = Date.now()): Promise<V4BudgetView> {
  if (lastView && now - lastView.at < V4_BUDGET_VIEW_MEMORY_MS) return lastView.view;
  const view = await allowance.view();
  lastView = { view, at: now };
  return view;
}

/** Test hook: forget this isolate's tokens, breaker copy and budget view, as a fresh isolate would. */
export function forgetV4Memory(): void {
  memory.readTokens = 0;
  memory.readTokensUntil = 0;
  memory.openUntil = 0;
  memory.readsRefusedUntil = 0;
  lastView = undefined;
}
