// The TURN key that vends credentials when TURN_KEY_ID does not pin one. Schema:
//
//   vend:v1:active-key   value ActiveKey (JSON), no expiry. Written by PUT /v1/active-key.
//
// KV is eventually consistent: another location may keep vending with the previous key for up to a
// minute after a change, which is why rotation deletes the old key only after the longest TTL. Vending
// reads the choice on every request, so each isolate keeps it for VENDING_KEY_MEMORY_MS; this store
// replaces its own copy when it writes.
import { VENDING_KEY_MEMORY_MS } from "../constants";

const ACTIVE_KEY = "vend:v1:active-key";

export interface ActiveKey {
  key_id: string;
  /** The caller that set it. */
  set_by: string;
  /** RFC 3339. */
  set_at: string;
}

let recent: { doc: ActiveKey; at: number } | undefined;
/** Counts this isolate's changes, so a read that overlapped one does not overwrite it. */
let generation = 0;

export class ActiveKeyStore {
  constructor(private readonly kv: KVNamespace) {}

  // The active key, read from KV (GET /v1/active-key).
  async get(): Promise<ActiveKey | undefined> {
    const doc = await this.kv.get<ActiveKey>(ACTIVE_KEY, "json");
    return doc && typeof doc.key_id === "string" ? doc : undefined;
  }

  // The active key as this isolate read it within VENDING_KEY_MEMORY_MS, else from KV (the vend path).
  async getRecent(): Promise<ActiveKey | undefined> {
    if (recent && Date.now() - recent.at < VENDING_KEY_MEMORY_MS) return recent.doc;
    const before = generation;
    const doc = await this.get();
    // A `set` in this isolate while the read was on its way wins over what the read found.
    if (generation === before) recent = doc && { doc, at: Date.now() };
    return doc;
  }

  forgetRecent(): void {
    generation++;
    recent = undefined;
  }

  async set(doc: ActiveKey): Promise<void> {
    generation++;
    recent = undefined;
    await this.kv.put(ACTIVE_KEY, JSON.stringify(doc));
    generation++;
    recent = { doc, at: Date.now() };
  }
}

/** Test hook: forget this isolate's copy, as a fresh isolate would. */
export function forgetRecentActiveKey(): void {
  recent = undefined;
}
