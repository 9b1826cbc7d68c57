// The per-IP bound on vending, with the VEND_IP_LIMITER Rate Limiting binding (wrangler.toml): a cheap first
// gate in front of the user's own object, which holds the exact per-user bounds. Counted per Cloudflare
// location and documented as permissive, so it bounds floods, not users.
import { VEND_RATE_LIMIT_PERIOD_SECONDS } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";
import { ipBucketKey } from "./ip-bucket";

/**
 * Counts one vend against the client IP (an IPv6 client by its /64: src/vend/ip-bucket.ts), for browser
 * callers only: an internal caller's users all share the service's own address.
 */
export async function enforceIpLimit(
  limiter: RateLimit | undefined,
  input: { subjectHash: string; clientIp: string | undefined },
): Promise<void> {
  if (!limiter) {
    // Fail closed: vending without abuse bounds is a misconfiguration, not a feature.
    throw new Failure("not_configured", "turnvend is not configured: the VEND_IP_LIMITER binding is required");
  }
  // CF-Connecting-IP is always set at Cloudflare's edge; only local runs lack it.
  if (!input.clientIp) return;
  let ok: boolean;
  try {
    ok = (await limiter.limit({ key: ipBucketKey(input.clientIp) })).success;
  } catch {
    // The limiter is a best-effort counter; if it fails, vending goes on rather than failing every user.
    log("vend.rate_limiter_failed", { scope: "ip" });
    return;
  }
  if (ok) return;
  log("vend.rate_limited", { scope: "ip", subject_hash: input.subjectHash });
  throw new Failure("rate_limited", "too many credential requests for this network address; try again later", {
    retryAfterSeconds: VEND_RATE_LIMIT_PERIOD_SECONDS,
    detail: "rate_limited",
  });
}
