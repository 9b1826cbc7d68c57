// The TURN key that vends credentials when TURN_KEY_ID does not pin one. It lives in the account object
// (src/objects/account-state.ts), so a change is seen everywhere at once by whoever asks the object.
//
// Vending must not ask the object on every request, so each isolate keeps the choice for
// VENDING_KEY_MEMORY_MS (30 s), and this store replaces its own copy when it writes. When the object cannot
// be reached, an isolate keeps vending with the key it last read for up to VENDING_KEY_STALE_MS (5 minutes);
// the key stays valid that long, since rotation deletes an old key only after the longest credential TTL. An
// isolate with no key to fall back on waits ACCOUNT_READ_COLD_TIMEOUT_MS for the object, then answers 503.
//
// Before the account object, the choice lived in KV (`vend:v1:active-key`); the object reads that record
// once, when it has none of its own (docs/storage-schema.md, "Moving over").
import {
  ACCOUNT_READ_COLD_TIMEOUT_MS,
  ACCOUNT_READ_ON_VEND_TIMEOUT_MS,
  ACCOUNT_STATE_RETRY_AFTER_SECONDS,
  VENDING_KEY_MEMORY_MS,
  VENDING_KEY_STALE_MS,
} from "../constants";
import { Failure, isFailure } from "../errors";
import { log } from "../observability/log";
import { bounded } from "../single-flight";
import type { AccountStateClient } from "./account-state-client";

export interface ActiveKey {
  key_id: string;
  /** The caller that set it. */
  set_by: string;
  /** RFC 3339. */
  set_at: string;
}

let recent: { doc: ActiveKey | undefined; at: number } | undefined;
/** Counts this isolate's changes, so a read that overlapped one does not overwrite it. */
let generation = 0;

export class ActiveKeyStore {
  constructor(private readonly account: AccountStateClient) {}

  // The active key, from the account object (GET /v1/active-key, PUT's checks).
  async get(): Promise<ActiveKey | undefined> {
    return (await this.account.activeKey()) ?? undefined;
  }

  // The active key as this isolate read it within VENDING_KEY_MEMORY_MS, else from the object (the vend path).
  // A read the vend stops waiting for goes on under `keepAlive` (waitUntil), so its answer is still remembered.
  async getRecent(keepAlive: (work: Promise<unknown>) => void = () => {}): Promise<ActiveKey | undefined> {
    const now = Date.now();
    if (recent && now - recent.at < VENDING_KEY_MEMORY_MS) return recent.doc;
    const before = generation;
    const read = this.get().then((doc) => {
      // A `set` in this isolate while the read was on its way wins over what the read found.
      if (generation === before) recent = { doc, at: Date.now() };
      return doc;
    });
    keepAlive(read.catch(() => {}));
    const stale = recent && now - recent.at < VENDING_KEY_STALE_MS ? recent : undefined;
    try {
      // With a key to fall back on, a slow object is waited for only briefly (its answer is still remembered);
      // without one, longer, but never without end.
      const waitMs = stale ? ACCOUNT_READ_ON_VEND_TIMEOUT_MS : ACCOUNT_READ_COLD_TIMEOUT_MS;
      return await bounded(read, waitMs, () => unavailable("timed out"));
    } catch (err) {
      if (!isFailure(err, "account_state_unavailable") || !stale) throw err;
      log("active_key.served_stale", { age_s: Math.floor((now - stale.at) / 1000) });
      return stale.doc;
    }
  }

  forgetRecent(): void {
    generation++;
    recent = undefined;
  }

  async set(doc: ActiveKey): Promise<void> {
    generation++;
    recent = undefined;
    await this.account.setActiveKey(doc);
    generation++;
    recent = { doc, at: Date.now() };
  }
}

function unavailable(why: string): Failure {
  return new Failure(
    "account_state_unavailable",
    `turnvend's account state cannot be reached (${why}); try again shortly`,
    {
      retryAfterSeconds: ACCOUNT_STATE_RETRY_AFTER_SECONDS,
    },
  );
}

/** The choice as versions before the account object kept it in KV; the object reads it once. */
export async function readLegacyActiveKey(kv: KVNamespace): Promise<ActiveKey | undefined> {
  const doc = await kv.get<ActiveKey>("vend:v1:active-key", "json");
  return doc && typeof doc.key_id === "string" && typeof doc.set_by === "string" && typeof doc.set_at === "string"
    ? { key_id: doc.key_id, set_by: doc.set_by, set_at: doc.set_at }
    : undefined;
}

/** Test hook: forget this isolate's copy, as a fresh isolate would. */
export function forgetRecentActiveKey(): void {
  recent = undefined;
}
