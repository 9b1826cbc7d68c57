// The scheduled sync of KV with upstream (cron in wrangler.toml). Upstream is the truth for which keys
// exist; KV is the truth for which secrets turnvend holds.
import { ORPHAN_SECRET_GRACE_SECONDS, ORPHAN_SECRETS_PER_RUN } from "../constants";
import { Failure } from "../errors";
import type { KeyDeps } from "../keys/deps";
import { buildIndex } from "../keys/reads";
import { log } from "../observability/log";

export interface ReconcileSummary {
  keys: number;
  /** Keys in the cache that upstream no longer has (deleted out of band). */
  dropped: number;
  /** Keys upstream that the cache did not know (created elsewhere). */
  discovered: number;
  /** Keys turnvend holds no secret for, so it cannot vend with them until one is adopted. */
  without_secret: number;
  /** Sealed secrets whose key no longer exists upstream, now destroyed. */
  orphan_secrets_deleted: number;
}

export async function reconcile(deps: KeyDeps): Promise<ReconcileSummary> {
  const [before, records, owners] = await Promise.all([deps.index.read(), deps.api.listKeys(), deps.secrets.owners()]);
  const now = deps.now();
  const upstreamIds = new Set(records.map((r) => r.uid));
  const cachedIds = new Set(before?.keys.map((k) => k.uid) ?? []);

  // A secret stored moments ago may belong to a create whose key this list predates: spare young ones.
  const candidates = [...owners].filter(
    ([uid, meta]) =>
      !upstreamIds.has(uid) && now - Date.parse(meta.stored_at || "1970-01-01") > ORPHAN_SECRET_GRACE_SECONDS * 1000,
  );
  // A sealed secret can never be fetched again, so one list is not enough to destroy it: each orphan is
  // confirmed gone with its own get, and a run destroys at most a bounded number.
  const orphans: string[] = [];
  for (const [uid] of candidates.slice(0, ORPHAN_SECRETS_PER_RUN)) {
    const gone = await deps.api.getKey(uid).then(
      () => false,
      (err: unknown) => err instanceof Failure && err.kind === "key_not_found",
    );
    if (gone) orphans.push(uid);
  }
  await Promise.all(orphans.map((uid) => deps.secrets.delete(uid)));
  for (const uid of orphans) owners.delete(uid);

  const doc = buildIndex(records, owners, now);
  await deps.index.write(doc);

  const summary: ReconcileSummary = {
    keys: records.length,
    dropped: [...cachedIds].filter((id) => !upstreamIds.has(id)).length,
    discovered: records.filter((r) => !cachedIds.has(r.uid)).length,
    without_secret: doc.keys.filter((k) => !k.has_secret).length,
    orphan_secrets_deleted: orphans.length,
  };
  log("reconcile.completed", { ...summary });
  return summary;
}
