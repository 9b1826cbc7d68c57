// The account object's SQLite tables (docs/storage-schema.md, "The account object"). Every method is
// synchronous: the object's single thread runs each one to its end before any other request's code, which is
// what makes a check followed by a write exact.
import type { CreateRecord, CreateRecords } from "../keys/create";
import type { ActiveKey } from "../storage/active-key";
import type { BucketState } from "../upstream/v4-bucket";
import type { GuardSwitches, UsageMeta } from "./usage-tables";

const SCHEMA = [
  // One row per create: the columns SQLite looks rows up by, and the record itself as JSON.
  `CREATE TABLE IF NOT EXISTS creates (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    record TEXT NOT NULL
  )`,
  // Pruning reads only what expired; settling reads only what is not done (a handful of rows at most).
  "CREATE INDEX IF NOT EXISTS creates_by_expiry ON creates (expires_at)",
  "CREATE INDEX IF NOT EXISTS creates_unfinished ON creates (state) WHERE state <> 'done'",
  "CREATE TABLE IF NOT EXISTS control (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
];

/** Rows of the control table, one per piece of account-wide state. */
interface ControlValues {
  /** The key chosen with PUT /v1/active-key. */
  active_key: ActiveKey;
  /** The v4 token bucket and the breaker. */
  v4_bucket: BucketState;
  /** When this object first started (ms): earlier versions' KV records are read for 24 hours after it. */
  installed_at: number;
  /** Set once the KV record `vend:v1:active-key` of an earlier version has been read (and moved over if present). */
  legacy_active_key_read: true;
  /** The analytics runs: newest data, last attempt and error, the month's egress (src/objects/usage-tables.ts). */
  usage_meta: UsageMeta;
  /** The operator's kill switch and account-budget lift (PUT /v1/guard). */
  guard_switches: GuardSwitches;
  /** The account-budget thresholds already alerted this month. */
  thresholds_sent: { month: number; sent: number[] };
}

export class AccountTables implements CreateRecords {
  constructor(private readonly sql: SqlStorage) {
    for (const statement of SCHEMA) sql.exec(statement);
  }

  // --- creates ---

  get(id: string): CreateRecord | undefined {
    return this.records("SELECT record FROM creates WHERE id = ?", id)[0];
  }

  put(rec: CreateRecord): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO creates (id, state, expires_at, record) VALUES (?, ?, ?, ?)",
      rec.id,
      rec.state,
      rec.expiresAt,
      JSON.stringify(rec),
    );
  }

  delete(id: string): void {
    this.sql.exec("DELETE FROM creates WHERE id = ?", id);
  }

  unfinished(): CreateRecord[] {
    return this.records("SELECT record FROM creates WHERE state <> 'done'");
  }

  /** Forgets Idempotency-Keys past their 24 hours. */
  pruneExpired(now: number): void {
    this.sql.exec("DELETE FROM creates WHERE expires_at <= ?", now);
  }

  // --- control ---

  control<K extends keyof ControlValues>(name: K): ControlValues[K] | undefined {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM control WHERE name = ?", name).toArray()[0];
    return row ? (JSON.parse(row.value) as ControlValues[K]) : undefined;
  }

  setControl<K extends keyof ControlValues>(name: K, value: ControlValues[K]): void {
    this.sql.exec("INSERT OR REPLACE INTO control (name, value) VALUES (?, ?)", name, JSON.stringify(value));
  }

  private records(query: string, ...bindings: string[]): CreateRecord[] {
    return this.sql
      .exec<{ record: string }>(query, ...bindings)
      .toArray()
      .map((row) => JSON.parse(row.record) as CreateRecord);
  }
}
