// TURN key management: upstream first, then the KV cache and custody. Plain values in, plain values out,
// so tests can call these without HTTP.
import type { CloudflareApi, KeyRecord } from "../upstream/cloudflare-api";
import type { CachedKey, KeyIndex, KeyIndexDoc } from "../storage/key-index";
import type { KeySecrets, SecretMetadata } from "../storage/key-secrets";
import { ApiError } from "../http/errors";
import { log } from "../observability/log";
import { untagName } from "./name-tag";
import { forgetVendingKey } from "../vend/vending-key";

export interface KeyDeps {
  api: CloudflareApi;
  index: KeyIndex;
  secrets: KeySecrets;
  freshSeconds: number;
  /** How old a cached answer may be when upstream fails and turnvend serves it anyway. */
  maxStaleSeconds: number;
  now?: () => number;
}

/** What Cloudflare's v4 API returns for a key, and so what turnvend returns. */
export interface PublicKey {
  uid: string;
  name: string;
  created: string;
  modified: string;
}

export type CacheState = "HIT" | "MISS" | "BYPASS" | "STALE";

export interface Cached<T> {
  value: T;
  cache: CacheState;
  /** Seconds since upstream confirmed the value; set on stale answers. */
  ageSeconds?: number;
}

export async function listKeys(deps: KeyDeps, opts: { bypass: boolean }): Promise<Cached<PublicKey[]>> {
  const now = clock(deps);
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

export async function getKey(deps: KeyDeps, keyId: string, opts: { bypass: boolean }): Promise<Cached<PublicKey>> {
  const now = clock(deps);
  const doc = opts.bypass ? undefined : await deps.index.read();
  const entry = doc?.keys.find((k) => k.uid === keyId);
  if (doc && entry && now - Math.max(entry.cached_at, doc.synced_at) < deps.freshSeconds * 1000) {
    return { value: toPublic(entry), cache: "HIT" };
  }
  let record: KeyRecord;
  try {
    record = await deps.api.getKey(keyId);
  } catch (err) {
    const known = entry ?? (await deps.index.read())?.keys.find((k) => k.uid === keyId);
    // Deleted out of band: drop it from the cache so lists stop showing it.
    if (err instanceof ApiError && err.kind === "key_not_found") {
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

export async function updateKey(
  deps: KeyDeps,
  keyId: string,
  input: { name: string | undefined; callerId: string },
): Promise<PublicKey> {
  const record = await deps.api.updateKey(keyId, input.name);
  const entry = mergeOne(deps, record, await deps.index.read());
  await deps.index.apply({ upsert: entry });
  log("turn_key.updated", { key_id: keyId, caller: input.callerId });
  return toPublic(entry);
}

/** Deletes upstream, then forgets the metadata and destroys the stored secret. */
export async function deleteKey(deps: KeyDeps, keyId: string, input: { callerId: string }): Promise<PublicKey> {
  const record = await deps.api.deleteKey(keyId);
  await Promise.all([deps.index.apply({ remove: keyId }), deps.secrets.delete(keyId)]);
  forgetVendingKey();
  log("turn_key.deleted", { key_id: keyId, caller: input.callerId });
  return toPublic(record);
}

/** Takes custody of the secret of a key made elsewhere (dashboard, Terraform). The key must exist upstream. */
export async function adoptKeySecret(
  deps: KeyDeps,
  keyId: string,
  input: { secret: string; callerId: string },
): Promise<PublicKey> {
  // A held secret may be the one-time secret Cloudflare will never show again: never overwrite it. A
  // damaged record (custody_failure) may be replaced, which is how an operator repairs it.
  const held = await deps.secrets.load(keyId).catch((err: unknown) => {
    if (err instanceof ApiError && err.kind === "custody_failure") return undefined;
    throw err;
  });
  if (held !== undefined) {
    throw new ApiError(
      "conflict",
      "turnvend already holds a secret for this key; delete the key or create a new one instead",
    );
  }
  const record = await deps.api.getKey(keyId);
  await deps.secrets.store(keyId, input.secret, input.callerId);
  forgetVendingKey();
  const entry: CachedKey = {
    ...toPublic(record),
    created_by: input.callerId,
    has_secret: true,
    cached_at: clock(deps),
  };
  await deps.index.apply({ upsert: entry });
  log("turn_key.adopted", { key_id: keyId, caller: input.callerId });
  return toPublic(entry);
}

/** Rebuilds the whole index from upstream: one upstream list and one KV list of stored secrets. */
export async function refresh(deps: KeyDeps): Promise<KeyIndexDoc> {
  const [records, owners] = await Promise.all([deps.api.listKeys(), deps.secrets.owners()]);
  const doc = buildIndex(records, owners, clock(deps));
  await deps.index.write(doc);
  return doc;
}

/** The index for an upstream key list, with who holds a secret for which key. */
export function buildIndex(records: KeyRecord[], owners: Map<string, SecretMetadata>, now: number): KeyIndexDoc {
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

function mergeOne(deps: KeyDeps, record: KeyRecord, doc: KeyIndexDoc | undefined): CachedKey {
  const known = doc?.keys.find((k) => k.uid === record.uid);
  return {
    ...toPublic(record),
    created_by: known?.created_by ?? null,
    has_secret: known?.has_secret ?? false,
    cached_at: clock(deps),
  };
}

/**
 * Stale-if-error: when upstream is down, slow or rate limiting, a cached answer no older than
 * maxStaleSeconds is better than none. Other failures (404, bad input) are rethrown as they are.
 */
function staleOr<T>(deps: KeyDeps, err: unknown, cached: { value: T; confirmedAt: number } | undefined): Cached<T> {
  const transient = err instanceof ApiError && (err.kind === "upstream_unavailable" || err.kind === "upstream_error");
  if (!transient || !cached) throw err;
  const ageSeconds = Math.max(0, Math.floor((clock(deps) - cached.confirmedAt) / 1000));
  if (ageSeconds > deps.maxStaleSeconds) {
    throw new ApiError(
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

export function toPublic(k: { uid: string; name?: string | null; created: string; modified: string }): PublicKey {
  return { uid: k.uid, name: untagName(k.name ?? ""), created: k.created, modified: k.modified };
}

function sortKeys(keys: CachedKey[]): CachedKey[] {
  return [...keys].sort((a, b) => a.created.localeCompare(b.created) || a.uid.localeCompare(b.uid));
}

export function clock(deps: KeyDeps): number {
  return deps.now?.() ?? Date.now();
}
