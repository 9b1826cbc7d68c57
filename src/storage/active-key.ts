// The TURN key that vends credentials when TURN_KEY_ID does not pin one. Schema:
//
//   vend:v1:active-key   value ActiveKey (JSON), no expiry. Written by PUT /v1/active-key.
//
// KV is eventually consistent: another location may keep vending with the previous key for up to a
// minute after a change, which is why rotation deletes the old key only after the longest TTL.
const ACTIVE_KEY = "vend:v1:active-key";

export interface ActiveKey {
  key_id: string;
  /** The caller that set it. */
  set_by: string;
  /** RFC 3339. */
  set_at: string;
}

export class ActiveKeyStore {
  constructor(private readonly kv: KVNamespace) {}

  async get(): Promise<ActiveKey | undefined> {
    const doc = await this.kv.get<ActiveKey>(ACTIVE_KEY, "json");
    return doc && typeof doc.key_id === "string" ? doc : undefined;
  }

  set(doc: ActiveKey): Promise<void> {
    return this.kv.put(ACTIVE_KEY, JSON.stringify(doc));
  }
}
