// Revocation: every outstanding credential matching a username or a subject is revoked upstream and
// then forgotten. Upstream first, ledger second, so a failure part-way leaves the rest for a retry and
// revoking again is harmless.
import { REVOKE_ATTEMPT_BUDGET, REVOKE_CONCURRENCY, REVOKE_DEADLINE_MS, REVOKE_MAX_PER_REQUEST } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { LedgerRecord } from "../storage/ledger";
import { UpstreamBudget } from "../upstream/budget";
import type { VendDeps } from "./deps";
import { subjectHash } from "./subject-hash";
import { forgetSubject, forgetUsernames } from "./reuse";

export type RevokeTarget = { username: string } | { subject: string };

export interface RevocationSummary {
  /** Credentials now revoked that were outstanding (including ones upstream already had no record of). */
  revoked: number;
  /** Outstanding credentials left for another call because of the per-request cap. */
  remaining: boolean;
}

export async function revokeCredentials(
  deps: VendDeps,
  target: RevokeTarget,
  revokedBy: string,
): Promise<RevocationSummary> {
  const now = deps.now();
  // One request may revoke up to REVOKE_MAX_PER_REQUEST credentials: it gets an allowance to match.
  const rtc = deps.rtc.withBudget(
    new UpstreamBudget(deps.upstreamTimeoutMs, REVOKE_ATTEMPT_BUDGET, REVOKE_DEADLINE_MS),
  );
  let records: LedgerRecord[];
  let more = false;
  if ("username" in target) {
    // Before the ledger: its entry may still be on its way, or gone, and the set must not be handed out again.
    forgetUsernames([target.username]);
    const record = await deps.ledger.get(target.username);
    records = record ? [record] : [];
  } else {
    const hash = await subjectHash(deps.subjectHashKey, target.subject);
    forgetSubject(hash);
    ({ records, more } = await deps.ledger.bySubject(hash, REVOKE_MAX_PER_REQUEST));
  }
  // KV expiry lags by up to a minute; an expired credential is already dead and needs no upstream call.
  const outstanding = records.filter((r) => Date.parse(r.expires_at) > now);

  const secrets = new Map<string, Promise<string | undefined>>();
  const secretFor = (keyId: string) => {
    let s = secrets.get(keyId);
    if (!s) {
      s = deps.secrets.load(keyId);
      secrets.set(keyId, s);
    }
    return s;
  };

  let revoked = 0;
  let firstError: unknown;
  await forEachLimited(outstanding, REVOKE_CONCURRENCY, async (record) => {
    try {
      const secret = await secretFor(record.key_id);
      if (secret === undefined) {
        // The issuing key was deleted (its secret goes with it), so nothing can revoke this credential any
        // more: forget it rather than failing every later revocation of the subject. It is not counted.
        await deps.ledger.remove(record);
        log("credential.revoke_impossible", {
          key_id: record.key_id,
          subject_hash: record.subject_hash,
          revoked_by: revokedBy,
        });
        return;
      }
      const outcome = await rtc.revoke(record.key_id, secret, record.username);
      await deps.ledger.remove(record);
      revoked += 1;
      log("credential.revoked", {
        key_id: record.key_id,
        subject_hash: record.subject_hash,
        outcome,
        revoked_by: revokedBy,
      });
    } catch (err) {
      log("credential.revoke_failed", {
        key_id: record.key_id,
        subject_hash: record.subject_hash,
        kind: err instanceof Failure ? err.kind : "unexpected",
      });
      firstError ??= err;
    }
  });
  if (firstError !== undefined) throw firstError;
  return { revoked, remaining: more };
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
