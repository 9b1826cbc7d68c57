// Custody of TURN key secrets in KV, sealed by key-encryption.ts. Schema: docs/storage-schema.md.
//
// Vending opens the same secret on every request, so each isolate keeps the secrets it opened for
// vending for a bounded time (VENDING_KEY_MEMORY_MS). This store forgets its own copy whenever it writes
// or deletes a secret; another isolate's copy lives at most that long.
import { VENDING_KEY_MEMORY_MS } from "../constants";
import { Failure } from "../errors";
import { keyRing, open, seal } from "./key-encryption";

const PREFIX = "secret:v1:";

/** Metadata stored beside each sealed secret, readable by one KV list for the whole account. */
export interface SecretMetadata {
  created_by: string;
  stored_at: string;
}

/** Secrets this isolate opened for vending, by key id. */
const opened = new Map<string, { secret: string; at: number }>();
/** Counts this isolate's writes, so a read that overlapped one is not remembered. */
let generation = 0;

/** Before and after a write: the isolate copy goes, and reads in flight will not bring it back. */
function changed(keyId: string): void {
  generation++;
  opened.delete(keyId);
}

export class KeySecrets {
  constructor(
    private readonly kv: KVNamespace,
    private readonly keyEncryptionKeys: string,
  ) {}

  async store(keyId: string, secret: string, createdBy: string): Promise<void> {
    const sealed = await seal(await keyRing(this.keyEncryptionKeys), keyId, secret);
    const metadata: SecretMetadata = { created_by: createdBy, stored_at: new Date().toISOString() };
    changed(keyId);
    await this.kv.put(PREFIX + keyId, JSON.stringify(sealed), { metadata }).finally(() => changed(keyId));
  }

  // The secret, read from KV, or undefined when none is stored. A damaged record throws (fails closed).
  async load(keyId: string): Promise<string | undefined> {
    const raw = await this.kv.get(PREFIX + keyId);
    if (raw === null) return undefined;
    let sealed: unknown;
    try {
      sealed = JSON.parse(raw);
    } catch {
      throw new Failure(
        "custody_failure",
        "the stored secret for this TURN key cannot be used; re-adopt the key or rotate it",
      );
    }
    return open(await keyRing(this.keyEncryptionKeys), keyId, sealed);
  }

  // The secret as this isolate opened it within VENDING_KEY_MEMORY_MS, else from KV (the vend path).
  async loadRecent(keyId: string): Promise<string | undefined> {
    const memo = opened.get(keyId);
    if (memo && Date.now() - memo.at < VENDING_KEY_MEMORY_MS) return memo.secret;
    const before = generation;
    const secret = await this.load(keyId);
    // A write in this isolate while the read was on its way may have made it stale: keep nothing then.
    if (secret !== undefined && generation === before) opened.set(keyId, { secret, at: Date.now() });
    return secret;
  }

  // Cloudflare refused this key's secret: the next vend reads KV again.
  forgetRecent(keyId: string): void {
    opened.delete(keyId);
  }

  async delete(keyId: string): Promise<void> {
    changed(keyId);
    await this.kv.delete(PREFIX + keyId).finally(() => changed(keyId));
  }

  // Every key id with a stored secret and who stored it: one KV list call per 1,000 keys.
  async owners(): Promise<Map<string, SecretMetadata>> {
    const owners = new Map<string, SecretMetadata>();
    let cursor: string | undefined;
    do {
      const page: KVNamespaceListResult<SecretMetadata> = await this.kv.list<SecretMetadata>({
        prefix: PREFIX,
        cursor,
      });
      for (const k of page.keys) {
        owners.set(k.name.slice(PREFIX.length), k.metadata ?? { created_by: "unknown", stored_at: "" });
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return owners;
  }
}

/** Test hook: forget every secret this isolate opened, as a fresh isolate would. */
export function forgetOpenedSecrets(): void {
  opened.clear();
}
