// Custody of TURN key secrets in KV, sealed by key-encryption.ts. Schema: docs/storage-schema.md.
import { ApiError } from "../http/errors";
import { keyRing, open, seal } from "./key-encryption";

const PREFIX = "secret:v1:";

/** Metadata stored beside each sealed secret, readable by one KV list for the whole account. */
export interface SecretMetadata {
  created_by: string;
  stored_at: string;
}

export class KeySecrets {
  constructor(
    private readonly kv: KVNamespace,
    private readonly keyEncryptionKeys: string,
  ) {}

  async store(keyId: string, secret: string, createdBy: string): Promise<void> {
    const sealed = await seal(await keyRing(this.keyEncryptionKeys), keyId, secret);
    const metadata: SecretMetadata = { created_by: createdBy, stored_at: new Date().toISOString() };
    await this.kv.put(PREFIX + keyId, JSON.stringify(sealed), { metadata });
  }

  /** The secret, or undefined when none is stored. A damaged record throws (fails closed). */
  async load(keyId: string): Promise<string | undefined> {
    const raw = await this.kv.get(PREFIX + keyId);
    if (raw === null) return undefined;
    let sealed: unknown;
    try {
      sealed = JSON.parse(raw);
    } catch {
      throw new ApiError(
        "custody_failure",
        "the stored secret for this TURN key cannot be used; re-adopt the key or rotate it",
      );
    }
    return open(await keyRing(this.keyEncryptionKeys), keyId, sealed);
  }

  delete(keyId: string): Promise<void> {
    return this.kv.delete(PREFIX + keyId);
  }

  /** Every key id with a stored secret and who stored it: one KV list call per 1,000 keys. */
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
