// Revocation: every outstanding credential matching a username or a subject is revoked upstream and then
// forgotten. The user's object answers what is outstanding and, from that moment, hands none of it out
// again; upstream first, the ledger second, so a failure part-way leaves the rest for a retry and revoking
// again is harmless. Credentials issued by earlier versions are in the KV ledger until they expire (48 hours
// at most) and are read through there.
import { REVOKE_ATTEMPT_BUDGET, REVOKE_CONCURRENCY, REVOKE_DEADLINE_MS, REVOKE_MAX_PER_REQUEST } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { LedgerRecord } from "../storage/ledger";
import { UpstreamBudget } from "../upstream/budget";
import type { VendDeps } from "./deps";
import { reach } from "./reach";
import type { HeldCredential } from "./objects-api";
import { subjectHash } from "./subject-hash";

/** By username, by subject, or by the subject's hash (the bill's guard knows users by hash only). */
export type RevokeTarget = { username: string } | { subject: string } | { subjectHash: string };

export interface RevocationSummary {
  /** Credentials now revoked that were outstanding (including ones upstream already had no record of). */
  revoked: number;
  /** Outstanding credentials left for another call because of the per-request cap. */
  remaining: boolean;
}

/** An outstanding credential and where it is recorded: a user's object, or the legacy KV ledger. */
interface Found {
  record: LedgerRecord;
  in: "object" | "kv";
}

const fromObject =
  (subject_hash: string) =>
  (c: HeldCredential): Found => ({
    record: { username: c.username, subject_hash, key_id: c.key_id, expires_at: c.expires_at },
    in: "object",
  });

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
  const { found, more } =
    "username" in target
      ? await byUsername(deps, target.username)
      : await byHash(
          deps,
          "subject" in target ? await subjectHash(deps.subjectHashKey, target.subject) : target.subjectHash,
        );
  // An expired credential is already dead and needs no upstream call.
  const outstanding = found.filter((f) => Date.parse(f.record.expires_at) > now);

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
  /** Per user's object: the usernames to drop from its ledger once upstream is done. */
  const settled = new Map<string, string[]>();
  const settle = async (f: Found) => {
    if (f.in === "kv") return deps.legacyLedger.remove(f.record);
    const list = settled.get(f.record.subject_hash) ?? [];
    list.push(f.record.username);
    settled.set(f.record.subject_hash, list);
  };
  await forEachLimited(outstanding, REVOKE_CONCURRENCY, async (f) => {
    const record = f.record;
    try {
      const secret = await secretFor(record.key_id);
      if (secret === undefined) {
        // The issuing key was deleted (its secret goes with it), so nothing can revoke this credential any
        // more: forget it rather than failing every later revocation of the subject. It is not counted.
        await settle(f);
        log("credential.revoke_impossible", {
          key_id: record.key_id,
          subject_hash: record.subject_hash,
          revoked_by: revokedBy,
        });
        return;
      }
      const outcome = await rtc.revoke(record.key_id, secret, record.username);
      await settle(f);
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
  // Even when some failed upstream: the ones revoked leave the ledger, the others stay for a retry.
  for (const [hash, usernames] of settled) await reach("user_ledger", () => deps.users(hash).forget(usernames));
  if (firstError !== undefined) throw firstError;
  return { revoked, remaining: more };
}

/** One credential: the username index names its user's object; else the KV ledger of earlier versions. */
async function byUsername(deps: VendDeps, username: string): Promise<{ found: Found[]; more: boolean }> {
  const shards = deps.usernames.all();
  const subjects = new Set(
    (await reach("username_index", () => Promise.all(shards.map((shard) => shard.find(username))))).flat(),
  );
  const found: Found[] = [];
  for (const hash of subjects) {
    const { credentials } = await reach("user_ledger", () => deps.users(hash).outstanding({ username }));
    found.push(...credentials.map(fromObject(hash)));
  }
  if (subjects.size > 0) return { found, more: false };
  const legacy = await deps.legacyLedger.get(username);
  if (legacy) return { found: [{ record: legacy, in: "kv" }], more: false };
  // Unknown everywhere: perhaps a vend's entry is still on its way to the index. Remembered for a few
  // minutes, so that entry is withdrawn when it arrives instead of staying out.
  await reach("username_index", () => Promise.all(shards.map((shard) => shard.tombstone(username))));
  return { found, more: false };
}

/** Every credential of a subject: its object's, then the KV ledger's of earlier versions, up to the cap. */
async function byHash(deps: VendDeps, hash: string): Promise<{ found: Found[]; more: boolean }> {
  const held = await reach("user_ledger", () => deps.users(hash).outstanding({ limit: REVOKE_MAX_PER_REQUEST }));
  const found = held.credentials.map(fromObject(hash));
  const legacy = await deps.legacyLedger.bySubject(hash, REVOKE_MAX_PER_REQUEST - found.length);
  found.push(...legacy.records.map((record): Found => ({ record, in: "kv" })));
  return { found, more: held.more || legacy.more };
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
