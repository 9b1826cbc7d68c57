// Reading keys through the KV cache: a fresh copy is served without asking Cloudflare, a stale one while
// Cloudflare fails, and every upstream answer refreshes the copy. Plain values in, plain values out.
import type { TurnKey } from "../contract/responses";
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { CachedKey, KeyIndexDoc } from "../storage/key-index";
import type { SecretMetadata } from "../storage/key-secrets";
import type { UpstreamKey } from "../upstream/schemas";
import type { KeyDeps } from "./deps";
import { toPublic } from "./public-key";

export type CacheState = "HIT" | "MISS" | "BYPASS" | "STALE";

export interface Cached<T> {
  value: T;
  cache: CacheState;
  /** Seconds since upstream confirmed the value; set on stale answers. */
  ageSeconds?: number;
}

export async function listKeys(deps: KeyDeps, opts: { bypass: boolean }): Promise<Cached<TurnKey[]>> {
  const now = deps.now();
  if (!opts.bypass) {
    const doc = await deps.index.read();
    if (doc && now - doc.synced_at < deps.freshSeconds * 1000) {
      return { value: sortKeys(doc.keys).map(toPublic), cache: "HIT" };
    }
  }
  try {
    const doc = await refresh(deps);
    return { value: sortKeys(doc.keys).map(toPublic), cache: opts.bypass ? "BYPASS" : "MISS" };
  } catch (err) {
    const doc = await deps.index.read();
    return staleOr(
      deps,
      err,
      doc && doc.synced_at > 0 ? { value: sortKeys(doc.keys).map(toPublic), confirmedAt: doc.synced_at } : undefined,
    );
  }
}

export async function getKey(deps: KeyDeps, keyId: string, opts: { bypass: boolean }): Promise<Cached<TurnKey>> {
  const now = deps.now();
  const doc = opts.bypass ? undefined : await deps.index.read();
  const entry = doc?.keys.find((k) => k.uid === keyId);
  if (doc && entry && now - Math.max(entry.cached_at, doc.synced_at) < deps.freshSeconds * 1000) {
    return { value: toPublic(entry), cache: "HIT" };
  }
  let record: UpstreamKey;
  try {
    record = await deps.api.getKey(keyId);
  } catch (err) {
    const known = entry ?? (await deps.index.read())?.keys.find((k) => k.uid === keyId);
    // Deleted out of band: drop it from the cache so lists stop showing it.
    if (err instanceof Failure && err.kind === "key_not_found") {
      if (known) await deps.index.apply({ remove: keyId });
      throw err;
    }
    const confirmedAt = known ? Math.max(known.cached_at, doc?.synced_at ?? 0) : 0;
    return staleOr(deps, err, known ? { value: toPublic(known), confirmedAt } : undefined);
  }
  const fresh = mergeOne(deps, record, doc ?? (await deps.index.read()));
  await deps.index.apply({ upsert: fresh });
  return { value: toPublic(fresh), cache: opts.bypass ? "BYPASS" : "MISS" };
}

/** Rebuilds the whole index from upstream: one upstream list and one KV list of stored secrets. */
export async function refresh(deps: KeyDeps): Promise<KeyIndexDoc> {
  const [records, owners] = await Promise.all([deps.api.listKeys(), deps.secrets.owners()]);
  const doc = buildIndex(records, owners, deps.now());
  await deps.index.write(doc);
  return doc;
}

/** The index for an upstream key list, with who holds a secret for which key. */
export function buildIndex(records: UpstreamKey[], owners: Map<string, SecretMetadata>, now: number): KeyIndexDoc {
  return {
    v: 1,
    synced_at: now,
    keys: records.map((r) => ({
      ...toPublic(r),
      created_by: owners.get(r.uid)?.created_by ?? null,
      has_secret: owners.has(r.uid),
      cached_at: now,
    })),
  };
}

/** One upstream record merged with what the index knew of it (who created it, whether its secret is held). */
export function mergeOne(deps: KeyDeps, record: UpstreamKey, doc: KeyIndexDoc | undefined): CachedKey {
  const known = doc?.keys.find((k) => k.uid === record.uid);
  return {
    ...toPublic(record),
    created_by: known?.created_by ?? null,
    has_secret: known?.has_secret ?? false,
    cached_at: deps.now(),
  };
}

/**
 * Stale-if-error: when upstream is down, slow or rate limiting, a cached answer no older than
 * maxStaleSeconds is better than none. Other failures (404, bad input) are rethrown as they are.
 */
function staleOr<T>(deps: KeyDeps, err: unknown, cached: { value: T; confirmedAt: number } | undefined): Cached<T> {
  const transient = err instanceof Failure && (err.kind === "upstream_unavailable" || err.kind === "upstream_error");
  if (!transient || !cached) throw err;
  const ageSeconds = Math.max(0, Math.floor((deps.now() - cached.confirmedAt) / 1000));
  if (ageSeconds > deps.maxStaleSeconds) {
    throw new Failure(
      "upstream_unavailable",
      "Cloudflare is unavailable and turnvend's cached copy is too old to serve; try again shortly",
      {
        retryAfterSeconds: err.retryAfterSeconds ?? 5,
        detail: "stale_too_old",
      },
    );
  }
  log("turn_key.served_stale", { age_s: ageSeconds, reason: err.detail ?? err.kind });
  return { value: cached.value, cache: "STALE", ageSeconds };
}

function sortKeys(keys: CachedKey[]): CachedKey[] {
  return [...keys].sort((a, b) => a.created.localeCompare(b.created) || a.uid.localeCompare(b.uid));
}
