// Abuse bounds on vending, with the Workers Rate Limiting bindings declared in wrangler.toml. The
// limits themselves are the bindings' `simple = { limit, period }` settings there.
import { VEND_RATE_LIMIT_PERIOD_SECONDS } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";

export interface VendLimiters {
  subject: RateLimit | undefined;
  ip: RateLimit | undefined;
}

/**
 * Counts one vend against the subject (keyed by its hash, never the raw subject) and, for browser
 * callers, against the client IP. Internal callers are exempt from the IP limit: all their users share
 * the service's own address.
 */
export async function enforceVendLimits(
  limiters: VendLimiters,
  input: { subjectHash: string; clientIp: string | undefined },
): Promise<void> {
  if (!limiters.subject || !limiters.ip) {
    // Fail closed: vending without abuse bounds is a misconfiguration, not a feature.
    throw new Failure(
      "not_configured",
      "turnvend is not configured: the VEND_SUBJECT_LIMITER and VEND_IP_LIMITER bindings are required",
    );
  }
  const checks: Promise<{ scope: string; ok: boolean }>[] = [
    check("subject", limiters.subject, `subject:${input.subjectHash}`),
  ];
  // CF-Connecting-IP is always set at Cloudflare's edge; only local runs lack it.
  if (input.clientIp) checks.push(check("ip", limiters.ip, `ip:${input.clientIp}`));
  const refused = (await Promise.all(checks)).find((r) => !r.ok);
  if (refused) {
    log("vend.rate_limited", { scope: refused.scope, subject_hash: input.subjectHash });
    throw new Failure(
      "rate_limited",
      `too many credential requests for this ${refused.scope === "ip" ? "network address" : "user"}; try again later`,
      {
        retryAfterSeconds: VEND_RATE_LIMIT_PERIOD_SECONDS,
      },
    );
  }
}

async function check(scope: string, limiter: RateLimit, key: string): Promise<{ scope: string; ok: boolean }> {
  try {
    return { scope, ok: (await limiter.limit({ key })).success };
  } catch {
    // The limiter is a best-effort counter; if it fails, vending goes on rather than failing every user.
    log("vend.rate_limiter_failed", { scope });
    return { scope, ok: true };
  }
}
