// The KV issuance ledger of earlier versions, read through and never written: credentials are now recorded by
// each user's object (src/objects/user-ledger.ts), but those issued before the upgrade stay revocable until
// they expire, 48 hours at most (Cloudflare's cap on a credential's lifetime). Once every deployment has run
// this version that long, no record is left and this file can go. Schema (also in docs/storage-schema.md):
//
//   cred:v1:<username>                      value  LedgerEntry (JSON)          expires with the credential
//   credsub:v1:<subject_hash>:<username>    value  ""  metadata SubjectIndexMeta  expires with the credential
//
// Deleted by POST /v1/credentials/revoke. Only the subject's keyed hash is stored, never the subject.

const BY_USERNAME = "cred:v1:";
const BY_SUBJECT = "credsub:v1:";

export interface LedgerEntry {
  subject_hash: string;
  key_id: string;
  /** RFC 3339. */
  expires_at: string;
}

export interface SubjectIndexMeta {
  key_id: string;
  expires_at: string;
}

/** A recorded credential: its username plus its ledger entry. */
export interface LedgerRecord extends LedgerEntry {
  username: string;
}

export class Ledger {
  constructor(private readonly kv: KVNamespace) {}

  async get(username: string): Promise<LedgerRecord | undefined> {
    const entry = await this.kv.get<LedgerEntry>(BY_USERNAME + username, "json");
    if (
      !entry ||
      typeof entry.key_id !== "string" ||
      typeof entry.expires_at !== "string" ||
      typeof entry.subject_hash !== "string"
    )
      return undefined;
    return { username, subject_hash: entry.subject_hash, key_id: entry.key_id, expires_at: entry.expires_at };
  }

  /** The subject's credentials, up to `limit`, from the subject index (one KV list per 1,000). */
  async bySubject(subjectHash: string, limit: number): Promise<{ records: LedgerRecord[]; more: boolean }> {
    const prefix = `${BY_SUBJECT}${subjectHash}:`;
    const records: LedgerRecord[] = [];
    let cursor: string | undefined;
    do {
      const page: KVNamespaceListResult<SubjectIndexMeta> = await this.kv.list<SubjectIndexMeta>({ prefix, cursor });
      for (const k of page.keys) {
        if (records.length >= limit) return { records, more: true };
        if (!k.metadata) continue;
        records.push({
          username: k.name.slice(prefix.length),
          subject_hash: subjectHash,
          key_id: k.metadata.key_id,
          expires_at: k.metadata.expires_at,
        });
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return { records, more: false };
  }

  /** Forgets a credential under both keys. */
  async remove(record: LedgerRecord): Promise<void> {
    await Promise.all([
      this.kv.delete(BY_USERNAME + record.username),
      this.kv.delete(`${BY_SUBJECT}${record.subject_hash}:${record.username}`),
    ]);
  }
}
