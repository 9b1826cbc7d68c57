// The cached key metadata: one KV document holding every key of the account, so a list or a get costs
// one KV read whatever the number of keys (up to 1,000). Schema: docs/storage-schema.md.

import { INDEX_MEMORY_MS, MISSING_KEY_MAX_ENTRIES, MISSING_KEY_MEMORY_MS } from "../constants";
import { log } from "../observability/log";

const INDEX_KEY = "keys:v1:index";

// This isolate's copy of the document, so hot reads skip KV. Its own writes replace it; other isolates'
// writes reach it within INDEX_MEMORY_MS (plus KV's own propagation delay).
let memory: { doc: KeyIndexDoc | undefined; at: number } | undefined;
// Ids Cloudflare answered 404 for (a negative cache), so repeating an unknown id costs no upstream call.
// A fresh upstream list (refresh, reconciliation) forgets them all; a key written through turnvend
// forgets its own id.
const missing = new Map<string, number>();

export interface CachedKey {
  uid: string;
  name: string;
  created: string;
  modified: string;
  /** The turnvend caller that created or adopted the key; null for keys made elsewhere. */
  created_by: string | null;
  /** Whether turnvend holds the key's secret and so can vend credentials with it. */
  has_secret: boolean;
  /** When this entry was last confirmed by upstream or written by turnvend (ms since epoch). */
  cached_at: number;
}

export interface KeyIndexDoc {
  v: 1;
  /** When the whole list was last fetched from upstream (ms since epoch); 0 if never. */
  synced_at: number;
  keys: CachedKey[];
}

export class KeyIndex {
  constructor(private readonly kv: KVNamespace) {}

  async read(): Promise<KeyIndexDoc | undefined> {
    if (memory && Date.now() - memory.at < INDEX_MEMORY_MS) return memory.doc;
    // The index is a copy of upstream: if KV cannot be read, answer as a cache miss instead of failing.
    const stored = await this.kv.get<KeyIndexDoc>(INDEX_KEY, "json").catch(() => {
      log("key_index.read_failed", {});
      return null;
    });
    const doc = stored?.v === 1 && Array.isArray(stored.keys) ? stored : undefined;
    memory = { doc, at: Date.now() };
    return doc;
  }

  /** Replaces the whole document with a fresh upstream list; the ids remembered as missing are forgotten. */
  async write(doc: KeyIndexDoc): Promise<void> {
    missing.clear();
    await this.store(doc);
  }

  /**
   * Applies one key's change after an upstream write succeeded. Read-modify-write: two isolates writing
   * at once can drop one change, which the next upstream refresh repairs (see the schema doc).
   */
  async apply(change: { upsert: CachedKey } | { remove: string }): Promise<void> {
    const doc = (await this.read()) ?? { v: 1, synced_at: 0, keys: [] };
    const uid = "upsert" in change ? change.upsert.uid : change.remove;
    const keys = doc.keys.filter((k) => k.uid !== uid);
    if ("upsert" in change) {
      missing.delete(uid);
      keys.push(change.upsert);
    }
    await this.store({ ...doc, keys });
  }

  /** Remembers, in this isolate, that Cloudflare answered 404 for this id. */
  rememberMissing(uid: string): void {
    missing.delete(uid);
    // Map keeps insertion order: the first entry is the oldest.
    if (missing.size >= MISSING_KEY_MAX_ENTRIES) missing.delete(missing.keys().next().value as string);
    missing.set(uid, Date.now());
  }

  /** True when Cloudflare answered 404 for this id within MISSING_KEY_MEMORY_MS, in this isolate. */
  isMissing(uid: string): boolean {
    const at = missing.get(uid);
    return at !== undefined && Date.now() - at < MISSING_KEY_MEMORY_MS;
  }

  private async store(doc: KeyIndexDoc): Promise<void> {
    memory = { doc, at: Date.now() };
    // Losing a cache write loses nothing: upstream holds the truth and the next refresh rewrites it.
    await this.kv.put(INDEX_KEY, JSON.stringify(doc)).catch(() => log("key_index.write_failed", {}));
  }
}

/** Test hook: forget this isolate's copy and its missing ids, as a fresh isolate would. */
export function forgetIndexMemory(): void {
  memory = undefined;
  missing.clear();
}
