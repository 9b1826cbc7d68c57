// The username index: which user's object holds a credential, found from its username alone, for
// revocation by username (Cloudflare's usernames are opaque and carry nothing of the user). Each entry is
// 48 hex characters: the first 64 bits of SHA-256(username), and the subject hash. Entries arriving within
// USERNAME_INDEX_FLUSH_INTERVAL_MS of the last write are gathered and appended to the newest row in one
// write, so a busy index costs a fraction of a written row per vend; each `add` answers once its entries
// are written. A lookup scans the rows with SQLite's instr(), a few MB at most (rows read are nearly free).
// Schema and costs: docs/storage-schema.md ("UsernameIndex").
import { DurableObject } from "cloudflare:workers";
import {
  USERNAME_INDEX_FLUSH_INTERVAL_MS,
  USERNAME_INDEX_PRUNE_INTERVAL_MS,
  USERNAME_INDEX_ROW_MAX_CHARS,
  USERNAME_TOMBSTONE_MS,
} from "../constants";
import { bytesToHex } from "../crypto/hex";
import { reportUsage } from "../observability/usage";
import type { UsernameIndexApi } from "../vend/objects-api";
import { Activity } from "./activity";
import { emptyUsage, Sql } from "./sql";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    keep_until INTEGER NOT NULL,
    hashes TEXT NOT NULL,
    subjects TEXT NOT NULL
  ) STRICT`,
  // Rare (revocations of a username not recorded yet) and looked up by key: the table is its own index.
  `CREATE TABLE IF NOT EXISTS tombstones (
    hash TEXT PRIMARY KEY,
    until INTEGER NOT NULL
  ) WITHOUT ROWID, STRICT`,
];

/** Hex characters per username hash (64 bits) and per subject hash (128 bits). */
const HASH_CHARS = 16;
const SUBJECT_CHARS = 32;
const SUBJECT_PATTERN = /^[0-9a-f]{32}$/;

/** The first 64 bits of SHA-256(username), in hex: collisions among live entries are negligible, and harmless. */
export async function usernameHash(username: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(username));
  return bytesToHex(new Uint8Array(digest, 0, HASH_CHARS / 2));
}

interface Pending {
  hash: string;
  subject: string;
  keepUntil: number;
}

export class UsernameIndex extends DurableObject<Env> implements UsernameIndexApi {
  private readonly sql: Sql;
  private readonly activity = new Activity();
  private schemaReady = false;
  // The newest row, which takes entries until it holds USERNAME_INDEX_ROW_MAX_CHARS.
  private newest: { id: number; chars: number } | null = null;
  private tombstones = new Map<string, number>();
  // Entries waiting for the next write; lookups see them too.
  private pending: Pending[] = [];
  private nextWrite: Promise<void> | undefined;
  private lastWrite = 0;
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = new Sql(ctx.storage.sql);
    void ctx.blockConcurrencyWhile(() => this.load());
  }

  private async load(): Promise<void> {
    const usage = emptyUsage();
    this.ensureSchema(usage);
    const [row] = this.sql.all<{ id: number; chars: number }>(
      usage,
      "SELECT id, length(hashes) AS chars FROM entries ORDER BY id DESC LIMIT 1",
    );
    this.newest = row ? { id: row.id, chars: row.chars } : null;
    const now = Date.now();
    for (const t of this.sql.all<{ hash: string; until: number }>(usage, "SELECT hash, until FROM tombstones")) {
      if (t.until > now) this.tombstones.set(t.hash, t.until);
    }
    this.alarmAt = await this.ctx.storage.getAlarm();
  }

  async add(usernames: string[], subjectHash: string, keepUntil: number): Promise<{ withdrawn: string[] }> {
    const done = this.activity.enter();
    try {
      if (!SUBJECT_PATTERN.test(subjectHash)) throw new Error("the subject hash must be 32 lowercase hex characters");
      const hashes = await Promise.all(usernames.map(usernameHash));
      const now = Date.now();
      const withdrawn: string[] = [];
      usernames.forEach((username, i) => {
        // Revoked by username before its entry got here: not indexed, and the caller withdraws it.
        if ((this.tombstones.get(hashes[i]) ?? 0) > now) withdrawn.push(username);
        else this.pending.push({ hash: hashes[i], subject: subjectHash, keepUntil });
      });
      if (withdrawn.length < usernames.length) await this.written();
      return { withdrawn };
    } finally {
      done();
    }
  }

  async find(username: string): Promise<string[]> {
    const done = this.activity.enter();
    try {
      const hash = await usernameHash(username);
      const now = Date.now();
      const subjects = new Set(this.pending.filter((p) => p.hash === hash).map((p) => p.subject));
      // After the pruning alarm deleted everything there is no table until the next write.
      const rows = this.schemaReady
        ? this.sql.all<{ hashes: string; subjects: string }>(
            emptyUsage(),
            "SELECT hashes, subjects FROM entries WHERE keep_until > ? AND instr(hashes, ?) > 0",
            now,
            hash,
          )
        : [];
      for (const row of rows) {
        // instr() may also match across two entries; only a match on an entry boundary counts.
        for (let at = row.hashes.indexOf(hash); at >= 0; at = row.hashes.indexOf(hash, at + 1)) {
          if (at % HASH_CHARS !== 0) continue;
          const entry = at / HASH_CHARS;
          subjects.add(row.subjects.slice(entry * SUBJECT_CHARS, (entry + 1) * SUBJECT_CHARS));
        }
      }
      return [...subjects];
    } finally {
      done();
    }
  }

  async tombstone(username: string): Promise<void> {
    const done = this.activity.enter();
    try {
      const hash = await usernameHash(username);
      const until = Date.now() + USERNAME_TOMBSTONE_MS;
      const usage = emptyUsage();
      this.ensureSchema(usage);
      this.sql.run(usage, "INSERT OR REPLACE INTO tombstones (hash, until) VALUES (?, ?)", hash, until);
      if (!this.tombstones.has(hash)) reportUsage("sql_rows_to_prune", 1);
      this.tombstones.set(hash, until);
      await this.armAlarm();
    } finally {
      done();
    }
  }

  // Resolves once every pending entry is written: at most one write per flush interval.
  private written(): Promise<void> {
    if (!this.nextWrite) {
      const wait = Math.min(
        Math.max(this.lastWrite + USERNAME_INDEX_FLUSH_INTERVAL_MS - Date.now(), 0),
        USERNAME_INDEX_FLUSH_INTERVAL_MS,
      );
      this.nextWrite = new Promise((resolve) => setTimeout(resolve, wait)).then(() => this.write());
    }
    return this.nextWrite;
  }

  private async write(): Promise<void> {
    this.nextWrite = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.lastWrite = Date.now();
    const usage = emptyUsage();
    this.ensureSchema(usage);
    const hashes = batch.map((e) => e.hash).join("");
    const subjects = batch.map((e) => e.subject).join("");
    const keepUntil = Math.max(...batch.map((e) => e.keepUntil));
    if (this.newest && this.newest.chars + hashes.length <= USERNAME_INDEX_ROW_MAX_CHARS) {
      this.sql.run(
        usage,
        "UPDATE entries SET hashes = hashes || ?, subjects = subjects || ?, keep_until = max(keep_until, ?) WHERE id = ?",
        hashes,
        subjects,
        keepUntil,
        this.newest.id,
      );
      this.newest.chars += hashes.length;
    } else {
      const id = (this.newest?.id ?? 0) + 1;
      this.sql.run(
        usage,
        "INSERT INTO entries (id, keep_until, hashes, subjects) VALUES (?, ?, ?, ?)",
        id,
        keepUntil,
        hashes,
        subjects,
      );
      reportUsage("sql_rows_to_prune", 1);
      this.newest = { id, chars: hashes.length };
    }
    await this.armAlarm();
  }

  // Pruning: rows whose entries have all expired, and old tombstones; with nothing left, all storage goes.
  override async alarm(): Promise<void> {
    const done = this.activity.enter();
    this.alarmAt = null;
    reportUsage("do_alarms_pending", -1);
    try {
      const now = Date.now();
      const usage = emptyUsage();
      this.ensureSchema(usage);
      const rows = this.sql.run(usage, "DELETE FROM entries WHERE keep_until <= ?", now);
      const tombs = this.sql.run(usage, "DELETE FROM tombstones WHERE until <= ?", now);
      reportUsage("sql_rows_to_prune", -(rows + tombs));
      for (const [hash, until] of this.tombstones) if (until <= now) this.tombstones.delete(hash);
      const [left] = this.sql.all<{ n: number }>(
        usage,
        "SELECT (SELECT count(*) FROM entries) + (SELECT count(*) FROM tombstones) AS n",
      );
      if (left.n === 0 && this.pending.length === 0) {
        await this.ctx.storage.deleteAll();
        this.schemaReady = false;
        this.newest = null;
      } else {
        if (this.newest && rows > 0) {
          const [row] = this.sql.all<{ id: number; chars: number }>(
            usage,
            "SELECT id, length(hashes) AS chars FROM entries WHERE id = ?",
            this.newest.id,
          );
          this.newest = row ? { id: row.id, chars: row.chars } : null;
        }
        await this.armAlarm();
      }
    } finally {
      done();
    }
  }

  private async armAlarm(): Promise<void> {
    if (this.alarmAt !== null) return;
    this.alarmAt = Date.now() + USERNAME_INDEX_PRUNE_INTERVAL_MS;
    reportUsage("do_alarms_set");
    reportUsage("do_alarms_pending", 1);
    await this.ctx.storage.setAlarm(this.alarmAt);
  }

  private ensureSchema(usage: ReturnType<typeof emptyUsage>): void {
    if (this.schemaReady) return;
    for (const statement of SCHEMA) this.sql.run(usage, statement);
    this.schemaReady = true;
  }
}
