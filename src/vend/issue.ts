// Issuing credentials: pick the key, mint upstream tagged with the subject's hash, record every
// username in the ledger, and shape what the browser gets.
import { LEDGER_WRITE_ATTEMPTS } from "../constants";
import type { VendedCredentials } from "../contract/responses";
import { Failure, isFailure } from "../errors";
import { log, type LogFields } from "../observability/log";
import { retry } from "../retry";
import type { LedgerEntry } from "../storage/ledger";
import { UpstreamBudget } from "../upstream/budget";
import { credentialUsernames } from "../upstream/rtc-api";
import { shapeIceServers } from "./browser-ice-servers";
import type { VendDeps } from "./deps";
import { enforceVendLimits } from "./rate-limit";
import { forgetUsernames, rememberSet, reusableSet } from "./reuse";
import { subjectHash } from "./subject-hash";
import { forgetRefusedKey, type VendingKey, vendingKey } from "./vending-key";

/** A vend's outcome: the body for the browser, and what the request's access-log line records about it. */
export interface Issued {
  body: VendedCredentials;
  /** Ids and counts only: the subject's hash, never the subject; no username, no credential. */
  logFields: LogFields;
}

/** Records every username of a set in the ledger; when that keeps failing, revokes the set upstream instead. */
async function recordOrWithdraw(
  deps: VendDeps,
  key: VendingKey,
  usernames: string[],
  entry: LedgerEntry,
): Promise<void> {
  try {
    await retry(() => Promise.all(usernames.map((username) => deps.ledger.record(username, entry, deps.now()))), {
      attempts: LEDGER_WRITE_ATTEMPTS,
      delayMs: (attempt) => 100 * attempt,
    });
    return;
  } catch {
    log("vend.ledger_write_failed", { key_id: key.keyId, subject_hash: entry.subject_hash });
  }
  forgetUsernames(usernames);
  // The request's upstream allowance may be spent by now; the withdrawal gets its own.
  const rtc = deps.rtc.withBudget(new UpstreamBudget(deps.upstreamTimeoutMs));
  const results = await Promise.allSettled(usernames.map((username) => rtc.revoke(key.keyId, key.secret, username)));
  log("vend.credential_withdrawn", {
    key_id: key.keyId,
    subject_hash: entry.subject_hash,
    revoked: results.filter((r) => r.status === "fulfilled").length,
  });
}

/**
 * Issues one set of credentials: abuse bounds first (so a refused request costs no upstream call), then
 * the vending key, the set to hand out again if the reuse window allows, else the upstream call and the
 * ledger. `clientIp` is set for end users only: an internal caller's users all share its address.
 */
export async function issueCredentials(
  deps: VendDeps,
  input: { subject: string; ttl: number; issuedBy: string; clientIp: string | undefined; allowReuse: boolean },
): Promise<Issued> {
  const hash = await subjectHash(deps.subjectHashKey, input.subject);
  await enforceVendLimits(deps.limiters, { subjectHash: hash, clientIp: input.clientIp });
  const key = await vendingKey(deps);
  const started = deps.now();
  const reuse = { subjectHash: hash, issuedBy: input.issuedBy, ttl: input.ttl, windowSeconds: deps.reuseSeconds };
  const reused = input.allowReuse ? reusableSet({ ...reuse, keyId: key.keyId, now: started }) : undefined;
  if (reused) {
    return {
      body: {
        iceServers: reused.iceServers,
        ttl: Math.floor((reused.expiresAt - started) / 1000),
        expiresAt: new Date(reused.expiresAt).toISOString(),
      },
      logFields: {
        key_id: key.keyId,
        subject_hash: hash,
        ttl: input.ttl,
        credentials: reused.usernames.length,
        issued_by: input.issuedBy,
        reused: true,
      },
    };
  }
  const upstream = await deps.rtc
    .generateIceServers(key.keyId, key.secret, { ttl: input.ttl, customIdentifier: hash })
    .catch((err: unknown) => {
      // Cloudflare refused the key: whatever this isolate remembers about it is wrong now.
      if (isFailure(err, "no_active_key")) forgetRefusedKey(deps, key.keyId);
      throw err;
    });
  // The lifetime counts from when the request was sent, so turnvend never claims more than Cloudflare grants.
  const expiresAtMs = started + input.ttl * 1000;
  const expiresAt = new Date(expiresAtMs).toISOString();

  const usernames = credentialUsernames(upstream.iceServers);
  // The ledger is written after the answer, off the hot path (a KV write can take longer than the whole
  // vend). If it cannot be written, the credential is revoked: none stays out that turnvend cannot revoke.
  deps.waitUntil(
    recordOrWithdraw(deps, key, usernames, { subject_hash: hash, key_id: key.keyId, expires_at: expiresAt }),
  );

  const iceServers = shapeIceServers(upstream.iceServers);
  if (iceServers.length === 0) {
    log("vend.no_usable_urls", { key_id: key.keyId });
    throw new Failure("upstream_error", "Cloudflare returned no ICE server a browser can use");
  }
  rememberSet(reuse, {
    keyId: key.keyId,
    subjectHash: hash,
    iceServers,
    usernames,
    issuedAt: started,
    expiresAt: expiresAtMs,
  });
  // Recorded on the request's own log line rather than a line of its own: one line per vend on the hot path.
  return {
    body: { iceServers, ttl: input.ttl, expiresAt },
    logFields: {
      key_id: key.keyId,
      subject_hash: hash,
      ttl: input.ttl,
      credentials: usernames.length,
      issued_by: input.issuedBy,
      reused: false,
    },
  };
}
