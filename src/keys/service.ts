// TURN key management: upstream first, then the KV cache and custody. Plain values in, plain values out,
// so tests can call these without HTTP.
import type { CloudflareApi, KeyRecord } from "../upstream/cloudflare-api";
import type { CachedKey, KeyIndex, KeyIndexDoc } from "../storage/key-index";
import type { KeySecrets } from "../storage/key-secrets";
import { ApiError } from "../http/errors";
import { log } from "../observability/log";

export interface KeyDeps {
  api: CloudflareApi;
  index: KeyIndex;
  secrets: KeySecrets;
  freshSeconds: number;
  now?: () => number;
}

/** What Cloudflare's v4 API returns for a key, and so what turnvend returns. */
export interface PublicKey {
  uid: string;
  name: string;
  created: string;
  modified: string;
}

export type CacheState = "HIT" | "MISS" | "BYPASS";

export interface Cached<T> {
  value: T;
  cache: CacheState;
}

const SECRET_STORE_ATTEMPTS = 3;

export async function listKeys(deps: KeyDeps, opts: { bypass: boolean }): Promise<Cached<PublicKey[]>> {
  const now = clock(deps);
  if (!opts.bypass) {
    const doc = await deps.index.read();
    if (doc && now - doc.synced_at < deps.freshSeconds * 1000) {
      return { value: sortKeys(doc.keys).map(toPublic), cache: "HIT" };
    }
  }
  const doc = await refresh(deps);
  return { value: sortKeys(doc.keys).map(toPublic), cache: opts.bypass ? "BYPASS" : "MISS" };
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
    // Deleted out of band: drop it from the cache so lists stop showing it.
    if (err instanceof ApiError && err.kind === "key_not_found" && entry) await deps.index.apply({ remove: keyId });
    throw err;
  }
  const fresh = await mergeOne(deps, record, doc ?? (await deps.index.read()));
  await deps.index.apply({ upsert: fresh });
  return { value: toPublic(fresh), cache: opts.bypass ? "BYPASS" : "MISS" };
}

/**
 * Creates a key upstream and takes custody of its one-time secret. If the secret cannot be stored, the
 * upstream key is deleted again (compensation): turnvend never leaves behind a key it cannot vend with.
 */
export async function createKey(
  deps: KeyDeps,
  input: { name: string | undefined; callerId: string },
): Promise<PublicKey & { key: string }> {
  const created = await deps.api.createKey(input.name);
  try {
    await withRetries(SECRET_STORE_ATTEMPTS, () => deps.secrets.store(created.uid, created.key, input.callerId));
  } catch {
    log("turn_key.custody_failed", { key_id: created.uid, caller: input.callerId });
    await deps.api.deleteKey(created.uid).then(
      () => log("turn_key.compensated", { key_id: created.uid }),
      () => log("turn_key.compensation_failed", { key_id: created.uid }),
    );
    throw new ApiError("custody_failure", "turnvend could not store the new key's secret, so the key was not kept; try again", {
      retryAfterSeconds: 5,
    });
  }
  const entry: CachedKey = { ...toPublic(created), created_by: input.callerId, has_secret: true, cached_at: clock(deps) };
  await deps.index.apply({ upsert: entry });
  log("turn_key.created", { key_id: created.uid, caller: input.callerId });
  return { ...toPublic(created), key: created.key };
}

export async function updateKey(deps: KeyDeps, keyId: string, input: { name: string | undefined; callerId: string }): Promise<PublicKey> {
  const record = await deps.api.updateKey(keyId, input.name);
  const entry = await mergeOne(deps, record, await deps.index.read());
  await deps.index.apply({ upsert: entry });
  log("turn_key.updated", { key_id: keyId, caller: input.callerId });
  return toPublic(entry);
}

/** Deletes upstream, then forgets the metadata and destroys the stored secret. */
export async function deleteKey(deps: KeyDeps, keyId: string, input: { callerId: string }): Promise<PublicKey> {
  const record = await deps.api.deleteKey(keyId);
  await Promise.all([deps.index.apply({ remove: keyId }), deps.secrets.delete(keyId)]);
  log("turn_key.deleted", { key_id: keyId, caller: input.callerId });
  return toPublic(record);
}

/** Takes custody of the secret of a key made elsewhere (dashboard, Terraform). The key must exist upstream. */
export async function adoptKeySecret(deps: KeyDeps, keyId: string, input: { secret: string; callerId: string }): Promise<PublicKey> {
  const record = await deps.api.getKey(keyId);
  await deps.secrets.store(keyId, input.secret, input.callerId);
  const entry: CachedKey = { ...toPublic(record), created_by: input.callerId, has_secret: true, cached_at: clock(deps) };
  await deps.index.apply({ upsert: entry });
  log("turn_key.adopted", { key_id: keyId, caller: input.callerId });
  return toPublic(entry);
}

/** Rebuilds the whole index from upstream: one upstream list and one KV list of stored secrets. */
export async function refresh(deps: KeyDeps): Promise<KeyIndexDoc> {
  const [records, owners] = await Promise.all([deps.api.listKeys(), deps.secrets.owners()]);
  const now = clock(deps);
  const doc: KeyIndexDoc = {
    v: 1,
    synced_at: now,
    keys: records.map((r) => ({
      ...toPublic(r),
      created_by: owners.get(r.uid)?.created_by ?? null,
      has_secret: owners.has(r.uid),
      cached_at: now,
    })),
  };
  await deps.index.write(doc);
  return doc;
}

async function mergeOne(deps: KeyDeps, record: KeyRecord, doc: KeyIndexDoc | undefined): Promise<CachedKey> {
  const known = doc?.keys.find((k) => k.uid === record.uid);
  return {
    ...toPublic(record),
    created_by: known?.created_by ?? null,
    has_secret: known?.has_secret ?? false,
    cached_at: clock(deps),
  };
}

function toPublic(k: { uid: string; name?: string | null; created: string; modified: string }): PublicKey {
  return { uid: k.uid, name: k.name ?? "", created: k.created, modified: k.modified };
}

function sortKeys(keys: CachedKey[]): CachedKey[] {
  return [...keys].sort((a, b) => a.created.localeCompare(b.created) || a.uid.localeCompare(b.uid));
}

function clock(deps: KeyDeps): number {
  return deps.now?.() ?? Date.now();
}

async function withRetries(attempts: number, fn: () => Promise<void>): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
    }
  }
}
