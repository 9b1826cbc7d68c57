// Issuing credentials: the per-IP gate, the vending key, then one call to the user's own object, which
// admits the vend (rate bound, reuse, quota), mints the set upstream and records it before answering. After
// the answer, the set's usernames go to the username index (for revocation by username).
import { USERNAME_INDEX_WRITE_ATTEMPTS } from "../constants";
import type { VendedCredentials } from "../contract/responses";
import { fromFailureData } from "../errors";
import { log, type LogFields } from "../observability/log";
import { retry } from "../retry";
import { UpstreamBudget } from "../upstream/budget";
import type { VendDeps } from "./deps";
import { assertVendingOpen } from "./guard";
import type { VendedSet } from "./objects-api";
import { enforceIpLimit } from "./rate-limit";
import { reach } from "./reach";
import { subjectHash } from "./subject-hash";
import { forgetRefusedKey, type VendingKey, vendingKey } from "./vending-key";

/** A vend's outcome: the body for the browser, and what the request's access-log line records about it. */
export interface Issued {
  body: VendedCredentials;
  /** Ids and counts only: the subject's hash, never the subject; no username, no credential. */
  logFields: LogFields;
}

/**
 * Issues one set of credentials, or hands out the one just issued within the reuse window. A refused vend
 * (IP gate, per-user bound, quota) makes no upstream call. `clientIp` is set for end users only: an
 * internal caller's users all share its address.
 */
export async function issueCredentials(
  deps: VendDeps,
  input: { subject: string; ttl: number; issuedBy: string; clientIp: string | undefined; allowReuse: boolean },
): Promise<Issued> {
  const hash = await subjectHash(deps.subjectHashKey, input.subject);
  await enforceIpLimit(deps.ipLimiter, { subjectHash: hash, clientIp: input.clientIp });
  // From this isolate's memory (at most GUARD_MEMORY_MS old): no I/O on the vend path but once per isolate per that.
  await assertVendingOpen(deps.account);
  const key = await vendingKey(deps);
  const outcome = await reach("user_ledger", () =>
    deps.users(hash).vend({
      subjectHash: hash,
      issuedBy: input.issuedBy,
      ttl: input.ttl,
      allowReuse: input.allowReuse,
      key: { keyId: key.keyId, secret: key.secret },
      policy: deps.policy,
      upstream: { rtcBaseUrl: deps.rtcBaseUrl, timeoutMs: deps.upstreamTimeoutMs },
    }),
  );
  if (!outcome.ok) {
    const failure = fromFailureData(outcome.failure);
    // Cloudflare refused the key: whatever this isolate remembers about it is wrong now.
    if (failure.kind === "no_active_key") forgetRefusedKey(deps, key.keyId);
    if (failure.kind === "user_egress_blocked") {
      log("vend.egress_blocked", { subject_hash: hash, retry_after: failure.retryAfterSeconds });
    }
    if (failure.kind === "rate_limited" || failure.kind === "quota_exceeded") {
      log(failure.kind === "rate_limited" ? "vend.rate_limited" : "vend.quota_exceeded", {
        scope: "user",
        subject_hash: hash,
        retry_after: failure.retryAfterSeconds,
      });
    }
    throw failure;
  }
  const { set, reused } = outcome;
  if (!reused) deps.waitUntil(indexOrWithdraw(deps, key, hash, set));
  // Recorded on the request's own log line rather than a line of its own: one line per vend on the hot path.
  return {
    body: {
      iceServers: set.iceServers,
      ttl: reused ? Math.floor((set.expiresAt - deps.now()) / 1000) : input.ttl,
      expiresAt: new Date(set.expiresAt).toISOString(),
    },
    logFields: {
      key_id: key.keyId,
      subject_hash: hash,
      ttl: input.ttl,
      credentials: set.usernames.length,
      issued_by: input.issuedBy,
      reused,
      ledger_rows_written: outcome.usage.rowsWritten,
    },
  };
}

/**
 * Writes the set's usernames to the username index, so a revocation by username finds the user. When that
 * keeps failing, or a revocation of a username came first, the credentials are withdrawn: revoked upstream
 * and never handed out again.
 */
async function indexOrWithdraw(deps: VendDeps, key: VendingKey, hash: string, set: VendedSet): Promise<void> {
  if (set.usernames.length === 0) return;
  let withdraw: string[];
  try {
    const { withdrawn } = await retry(() => deps.usernames.forSubject(hash).add(set.usernames, hash, set.expiresAt), {
      attempts: USERNAME_INDEX_WRITE_ATTEMPTS,
      delayMs: (attempt) => 100 * attempt,
    });
    if (withdrawn.length === 0) return;
    log("vend.revoked_before_indexed", { key_id: key.keyId, subject_hash: hash, credentials: withdrawn.length });
    withdraw = withdrawn;
  } catch {
    log("vend.username_index_failed", { key_id: key.keyId, subject_hash: hash });
    withdraw = set.usernames;
  }
  // The request's upstream allowance may be spent by now; the withdrawal gets its own.
  const rtc = deps.rtc.withBudget(new UpstreamBudget(deps.upstreamTimeoutMs));
  const results = await Promise.allSettled(withdraw.map((username) => rtc.revoke(key.keyId, key.secret, username)));
  const revoked = withdraw.filter((_, i) => results[i].status === "fulfilled");
  const unrevoked = withdraw.filter((_, i) => results[i].status !== "fulfilled");
  await deps
    .users(hash)
    .forget(revoked, unrevoked)
    .catch(() => log("vend.withdrawal_unrecorded", { key_id: key.keyId, subject_hash: hash }));
  log("vend.credential_withdrawn", { key_id: key.keyId, subject_hash: hash, revoked: revoked.length });
}
