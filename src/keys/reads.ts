// Reading keys through the KV cache: a fresh copy is served without asking Cloudflare, a stale one while
// Cloudflare fails, and every upstream answer refreshes the copy. Plain values in, plain values out.
import type { TurnKey } from "../contract/responses";
import { KEYS_REFRESH_PERIOD_SECONDS, UPSTREAM_DEADLINE_MS } from "../constants";
import { Failure, isFailure } from "../errors";
import { log } from "../observability/log";
import { shareFlight } from "../single-flight";
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
  /** The caller's allowance of refreshes was spent, so the cached copy was served instead of asking Cloudflare. */
  refreshRefused?: true;
}

export interface ReadOptions {
  /** Cache-Control: no-cache: ask Cloudflare even while the cached copy is fresh. */
  bypass: boolean;
  /** Who asks: each request that reaches Cloudflare on their behalf spends their allowance. */
  caller: string;
}

interface CachedCopy<T> {
  value: T;
  /** When upstream last confirmed it (ms since the epoch). */
  confirmedAt: number;
}

export async function listKeys(deps: KeyDeps, opts: ReadOptions): Promise<Cached<TurnKey[]>> {
  const doc = await deps.index.read();
  const cached =
    doc && doc.synced_at > 0 ? { value: sortKeys(doc.keys).map(toPublic), confirmedAt: doc.synced_at } : undefined;
  if (!opts.bypass && cached && isFresh(deps, cached)) return { value: cached.value, cache: "HIT" };
  try {
    const fresh = await sharedRefresh(deps, "list", opts.caller, () => refresh(deps));
    return { value: sortKeys(fresh.keys).map(toPublic), cache: opts.bypass ? "BYPASS" : "MISS" };
  } catch (err) {
    return servedAnyway(deps, err, cached);
  }
}

export async function getKey(deps: KeyDeps, keyId: string, opts: ReadOptions): Promise<Cached<TurnKey>> {
  const doc = await deps.index.read();
  const entry = doc?.keys.find((k) => k.uid === keyId);
  const cached =
    doc && entry ? { value: toPublic(entry), confirmedAt: Math.max(entry.cached_at, doc.synced_at) } : undefined;
  if (!opts.bypass) {
    if (cached && isFresh(deps, cached)) return { value: cached.value, cache: "HIT" };
    // Asked about moments ago, and Cloudflare had no such key: a stream of made-up ids costs nothing upstream.
    if (!cached && deps.index.isMissing(keyId)) throw keyNotFound();
  }
  try {
    const fresh = await sharedRefresh(deps, `get:${keyId}`, opts.caller, () => refreshOne(deps, keyId));
    return { value: toPublic(fresh), cache: opts.bypass ? "BYPASS" : "MISS" };
  } catch (err) {
    return servedAnyway(deps, err, cached);
  }
}

/** Asks Cloudflare for one key and writes the answer into the index (once, however many requests share it). */
async function refreshOne(deps: KeyDeps, keyId: string): Promise<CachedKey> {
  let record: UpstreamKey;
  try {
    record = await deps.api.getKey(keyId);
  } catch (err) {
    if (isFailure(err, "key_not_found")) {
      deps.index.rememberMissing(keyId);
      // Deleted out of band: drop it from the cache so lists stop showing it.
      const doc = await deps.index.read();
      if (doc?.keys.some((k) => k.uid === keyId)) await deps.index.apply({ remove: keyId });
    }
    throw err;
  }
  const fresh = mergeOne(deps, record, await deps.index.read());
  await deps.index.apply({ upsert: fresh });
  return fresh;
}

/**
 * Runs an upstream read for `caller`, shared with an identical read already in flight in this isolate, so
 * a burst of refreshes costs one upstream call, one index write and one refresh of the allowance (joiners
 * take the first request's answer, refusal included). The run checks the breaker first (a refusal that
 * costs nothing), then spends the caller's allowance: when it is spent, the read is refused (rate_limited,
 * detail refresh_refused) and the caller gets the cached copy.
 */
function sharedRefresh<T>(deps: KeyDeps, what: string, caller: string, read: () => Promise<T>): Promise<T> {
  return shareFlight(
    `keys:${what}`,
    UPSTREAM_DEADLINE_MS,
    async () => {
      await deps.api.assertAvailable();
      if (!(await deps.allowance.take(caller))) {
        throw new Failure("rate_limited", "this caller has asked Cloudflare too often; try again later", {
          retryAfterSeconds: KEYS_REFRESH_PERIOD_SECONDS,
          detail: "refresh_refused",
        });
      }
      return read();
    },
    sharedTimeout,
  );
}

function sharedTimeout(): Failure {
  return new Failure("upstream_unavailable", "Cloudflare did not answer in time; try again shortly", {
    detail: "timeout",
  });
}

function isFresh(deps: KeyDeps, cached: CachedCopy<unknown>): boolean {
  return deps.now() - cached.confirmedAt < deps.freshSeconds * 1000;
}

function keyNotFound(): Failure {
  return new Failure("key_not_found", "no TURN key with that id exists in this account");
}

/**
 * When a read could not ask Cloudflare, the cached copy may still answer: a refused refresh gets it as it
 * is (marked), an upstream failure gets it while no older than maxStaleSeconds (stale-if-error).
 */
function servedAnyway<T>(deps: KeyDeps, err: unknown, cached: CachedCopy<T> | undefined): Cached<T> {
  if (err instanceof Failure && err.detail === "refresh_refused") {
    const ageSeconds = cached ? Math.max(0, Math.floor((deps.now() - cached.confirmedAt) / 1000)) : 0;
    if (!cached || ageSeconds > deps.maxStaleSeconds) throw err;
    log("turn_key.refresh_refused", { age_s: ageSeconds });
    if (isFresh(deps, cached)) return { value: cached.value, cache: "HIT", refreshRefused: true };
    return { value: cached.value, cache: "STALE", ageSeconds, refreshRefused: true };
  }
  return staleOr(deps, err, cached);
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
 * Stale-if-error: when upstream is down, slow or rate limiting, or turnvend's own v4 budget is spent, a
 * cached answer no older than maxStaleSeconds is better than none. Other failures (404, bad input) are
 * rethrown as they are.
 */
function staleOr<T>(deps: KeyDeps, err: unknown, cached: CachedCopy<T> | undefined): Cached<T> {
  // The account object unreachable is transient too: without its budget no read goes upstream, and the copy answers.
  const transient =
    err instanceof Failure &&
    (err.kind === "upstream_unavailable" || err.kind === "upstream_error" || err.kind === "account_state_unavailable");
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
