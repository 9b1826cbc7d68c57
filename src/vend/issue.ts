// Issuing credentials: the per-IP gate, the account guard (from this isolate's memory), the vending key, then
// one call to the user's own object, which admits the vend (egress block, rate bound, reuse, quota), mints the set
// (Cloudflare within the vend's deadline, and/or the self-hosted provider, by TURN_PROVIDER_MODE) and records it
// before answering. The breaker on Cloudflare's credential API is this isolate's (./breaker.ts): no call beyond
// the one to the user's object. After the answer, the set's usernames go to the username index (for revocation
// by username).
import {
  PUBLIC_STUN_URL,
  USER_OBJECT_GRACE_MS,
  USERNAME_INDEX_WRITE_ATTEMPTS,
  VEND_DEADLINE_FLOOR_MS,
} from "../constants";
import type { VendedCredentials } from "../contract/responses";
import { Failure, fromFailureData, isFailure } from "../errors";
import { log, type LogFields } from "../observability/log";
import { retry } from "../retry";
import { bounded } from "../single-flight";
import { UpstreamBudget } from "../upstream/budget";
import type { VendDeps } from "./deps";
import { assertVendingOpen } from "./guard";
import type { CloudflareCall, VendedSet } from "./objects-api";
import { enforceIpLimit } from "./rate-limit";
import { reach } from "./reach";
import { stunOnly } from "./self-hosted";
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
  input: {
    subject: string;
    ttl: number;
    issuedBy: string;
    clientIp: string | undefined;
    allowReuse: boolean;
    /** When the request arrived (epoch ms): the vend's deadline on Cloudflare counts from then. */
    arrivedAt?: number;
  },
): Promise<Issued> {
  const hash = await subjectHash(deps.subjectHashKey, input.subject);
  await enforceIpLimit(deps.ipLimiter, { subjectHash: hash, clientIp: input.clientIp });
  const { providers } = deps;
  const hasFallback = providers.mode === "failover" || providers.mode === "both";
  // Both from this isolate's memory, refreshed from the account object at most every few seconds: on a cold
  // isolate they are two reads of it, asked for at once rather than one after the other. The guard decides
  // first: a stopped account refuses the vend whatever the key read says.
  const keyRead = cloudflareKey(deps, hasFallback || providers.failOpen === "stun");
  keyRead.catch(() => {});
  await assertVendingOpen(deps.account, deps.waitUntil);
  // The breaker acts only where there is somewhere else to go; in cloudflare mode every vend asks Cloudflare.
  const admission = hasFallback ? deps.breaker.admit() : "call";
  let cloudflare: CloudflareCall = "none";
  try {
    const key = await keyRead;
    const deadlineAt = (input.arrivedAt ?? deps.now()) + providers.vendDeadlineMs;
    const outcome = await reach("user_ledger", () =>
      bounded(
        deps.users(hash).vend({
          subjectHash: hash,
          issuedBy: input.issuedBy,
          ttl: input.ttl,
          allowReuse: input.allowReuse,
          key: key ? { keyId: key.keyId, secret: key.secret } : undefined,
          policy: deps.policy,
          upstream: {
            rtcBaseUrl: deps.rtcBaseUrl,
            timeoutMs: deps.upstreamTimeoutMs,
            deadlineMs: providers.vendDeadlineMs,
            deadlineAt,
          },
          providers: {
            mode: providers.mode,
            callCloudflare: admission !== "skip" && key !== undefined,
            fallback: providers.fallback && {
              urls: providers.fallback.urls,
              secret: providers.fallback.signingSecret,
              ttlMaxSeconds: providers.fallback.ttlMaxSeconds,
            },
            failOpen: providers.failOpen === "stun" ? stunOnly(providers.fallback?.urls, PUBLIC_STUN_URL) : undefined,
            iceUrls: providers.iceUrls,
          },
        }),
        // A stuck object must not hold the vend past its deadline: reach() turns this into a 503. The object
        // gives Cloudflare at least VEND_DEADLINE_FLOOR_MS however late the vend reaches it, so the wait does too.
        Math.max(deadlineAt - deps.now(), VEND_DEADLINE_FLOOR_MS) + USER_OBJECT_GRACE_MS,
        () => new Error("no answer within the vend's deadline"),
      ),
    );
    cloudflare = outcome.cloudflare;
    if (!outcome.ok) {
      const failure = fromFailureData(outcome.failure);
      // Cloudflare refused the key: whatever this isolate remembers about it is wrong now.
      if (failure.kind === "no_active_key" && key) forgetRefusedKey(deps, key.keyId);
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
    if (!reused && set.usernames.length > 0) deps.waitUntil(indexOrWithdraw(deps, key, hash, set));
    const body: VendedCredentials = {
      iceServers: set.iceServers,
      // A fresh set's lifetime (the self-hosted expiry is a whole second, so ceil); a reused one's remainder.
      ttl: reused ? Math.floor((set.expiresAt - deps.now()) / 1000) : Math.ceil((set.expiresAt - set.issuedAt) / 1000),
      expiresAt: new Date(set.expiresAt).toISOString(),
      provider: set.provider,
    };
    if (set.degraded) body.degraded = true;
    // Recorded on the request's own log line rather than a line of its own: one line per vend on the hot path.
    return {
      body,
      logFields: {
        key_id: key?.keyId,
        subject_hash: hash,
        ttl: input.ttl,
        credentials: set.usernames.length,
        issued_by: input.issuedBy,
        reused,
        provider: set.provider,
        degraded: set.degraded,
        cloudflare,
        ledger_rows_written: outcome.usage.rowsWritten,
      },
    };
  } finally {
    if (hasFallback) deps.breaker.record(admission, cloudflare);
  }
}

/**
 * The Cloudflare key this vend mints with, or undefined when it need not (self-hosted mode) or cannot: with
 * somewhere else to go (`canDoWithout`), any failure to get the key (none set, its secret missing, the key
 * stores unreachable) is one more reason to use it.
 */
async function cloudflareKey(deps: VendDeps, canDoWithout: boolean): Promise<VendingKey | undefined> {
  if (deps.providers.mode === "self-hosted") return undefined;
  try {
    return await vendingKey(deps);
  } catch (err) {
    if (!canDoWithout) throw err;
    if (!isFailure(err, "no_active_key")) {
      log("vend.key_unavailable", { kind: err instanceof Failure ? err.kind : "unexpected" });
    }
    return undefined;
  }
}

/**
 * Writes the set's usernames to the username index, so a revocation by username finds the user. When that
 * keeps failing, or a revocation of a username came first, the credentials are withdrawn: revoked upstream
 * and never handed out again.
 */
async function indexOrWithdraw(
  deps: VendDeps,
  key: VendingKey | undefined,
  hash: string,
  set: VendedSet,
): Promise<void> {
  let withdraw: string[];
  try {
    const { withdrawn } = await retry(() => deps.usernames.forSubject(hash).add(set.usernames, hash, set.expiresAt), {
      attempts: USERNAME_INDEX_WRITE_ATTEMPTS,
      delayMs: (attempt) => 100 * attempt,
    });
    if (withdrawn.length === 0) return;
    log("vend.revoked_before_indexed", { key_id: key?.keyId, subject_hash: hash, credentials: withdrawn.length });
    withdraw = withdrawn;
  } catch {
    log("vend.username_index_failed", { key_id: key?.keyId, subject_hash: hash });
    withdraw = set.usernames;
  }
  // Self-hosted credentials cannot be withdrawn (no revocation list); they are never handed out again either.
  const withheld = withdraw.filter((u) => set.selfHosted.includes(u));
  withdraw = withdraw.filter((u) => !set.selfHosted.includes(u));
  if (!key || withdraw.length === 0) {
    if (withheld.length > 0)
      await deps
        .users(hash)
        .forget([], withheld)
        .catch(() => {});
    return;
  }
  // The request's upstream allowance may be spent by now; the withdrawal gets its own.
  const rtc = deps.rtc.withBudget(new UpstreamBudget(deps.upstreamTimeoutMs));
  const results = await Promise.allSettled(withdraw.map((username) => rtc.revoke(key.keyId, key.secret, username)));
  const revoked = withdraw.filter((_, i) => results[i].status === "fulfilled");
  const unrevoked = withdraw.filter((_, i) => results[i].status !== "fulfilled");
  await deps
    .users(hash)
    .forget(revoked, [...unrevoked, ...withheld])
    .catch(() => log("vend.withdrawal_unrecorded", { key_id: key.keyId, subject_hash: hash }));
  log("vend.credential_withdrawn", { key_id: key.keyId, subject_hash: hash, revoked: revoked.length });
}
