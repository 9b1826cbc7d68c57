// The rate-limit breaker. Cloudflare answers 429 and then blocks every call of the token for minutes
// (docs/cloudflare-upstream.md#api-rate-limit), so after one 429 no admin call goes upstream until
// Retry-After has passed. The state lives in KV so every isolate and location sees it; while it is open,
// each isolate also remembers it, so a held call costs no KV read.
import { KV_MIN_TTL_SECONDS } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";

const BREAKER_KEY = "breaker:v1:cloudflare-api";

let memo: { openUntil: number } | undefined;

export class Breaker {
  constructor(private readonly kv: KVNamespace) {}

  /** Throws the 503 a caller should see while the breaker is open. */
  async assertClosed(): Promise<void> {
    const openUntil = await this.openUntil();
    const waitMs = openUntil - Date.now();
    if (waitMs > 0) {
      throw new Failure(
        "upstream_unavailable",
        "Cloudflare is rate limiting this account; turnvend is holding calls until it may retry",
        {
          retryAfterSeconds: Math.ceil(waitMs / 1000),
          detail: "breaker_open",
        },
      );
    }
  }

  async trip(retryAfterSeconds: number): Promise<void> {
    const openUntil = Date.now() + retryAfterSeconds * 1000;
    memo = { openUntil };
    log("upstream.breaker_opened", { retry_after_s: retryAfterSeconds });
    await this.kv.put(BREAKER_KEY, String(openUntil), {
      expirationTtl: Math.max(KV_MIN_TTL_SECONDS, retryAfterSeconds),
    });
  }

  private async openUntil(): Promise<number> {
    if (memo && memo.openUntil > Date.now()) return memo.openUntil;
    const stored = Number(await this.kv.get(BREAKER_KEY));
    memo = { openUntil: Number.isFinite(stored) ? stored : 0 };
    return memo.openUntil;
  }
}

/** Test hook: forget this isolate's memory of the breaker. */
export function resetBreakerMemo(): void {
  memo = undefined;
}
