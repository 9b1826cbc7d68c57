// The cached key metadata: one KV document holding every key of the account, so a list or a get costs
// one KV read whatever the number of keys (up to 1,000). Schema: docs/storage-schema.md.

const INDEX_KEY = "keys:v1:index";

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
    const doc = await this.kv.get<KeyIndexDoc>(INDEX_KEY, "json");
    return doc?.v === 1 && Array.isArray(doc.keys) ? doc : undefined;
  }

  write(doc: KeyIndexDoc): Promise<void> {
    return this.kv.put(INDEX_KEY, JSON.stringify(doc));
  }

  /**
   * Applies one key's change after an upstream write succeeded. Read-modify-write: two isolates writing
   * at once can drop one change, which the next upstream refresh repairs (see the schema doc).
   */
  async apply(change: { upsert: CachedKey } | { remove: string }): Promise<void> {
    const doc = (await this.read()) ?? { v: 1, synced_at: 0, keys: [] };
    const uid = "upsert" in change ? change.upsert.uid : change.remove;
    const keys = doc.keys.filter((k) => k.uid !== uid);
    if ("upsert" in change) keys.push(change.upsert);
    await this.write({ ...doc, keys });
  }
}
