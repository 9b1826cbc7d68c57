// Each caller's allowance of requests that reach Cloudflare's v4 API on its behalf: cache bypasses and
// misses. Cloudflare allows 1,200 calls per 5 minutes per token and then blocks every call for 5 minutes
// (docs/cloudflare-upstream.md#api-rate-limit), so one read-only caller must not be able to spend that
// budget for everyone. The Rate Limiting binding KEYS_REFRESH_LIMITER (wrangler.toml) counts per caller,
// per Cloudflare location: a cheap first gate, not exact accounting.
import { Failure } from "../errors";
import { log } from "../observability/log";

export class RefreshAllowance {
  constructor(private readonly limiter: RateLimit | undefined) {}

  /** Spends one refresh of `caller`'s allowance; false when it is used up for this period. */
  async take(caller: string): Promise<boolean> {
    if (!this.limiter) {
      // Fail closed: a cache any caller can bypass at will is a misconfiguration.
      throw new Failure(
        "not_configured",
        "turnvend is not configured: the KEYS_REFRESH_LIMITER rate limiting binding is required",
      );
    }
    try {
      return (await this.limiter.limit({ key: `keys-refresh:${caller}` })).success;
    } catch {
      // The limiter is best effort; when it fails, reads go on rather than failing every caller.
      log("keys.refresh_limiter_failed", {});
      return true;
    }
  }
}
