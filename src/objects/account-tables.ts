// The account object's SQLite tables (docs/storage-schema.md, "The account object"). Every method is
// synchronous: the object's single thread runs each one to its end before any other request's code, which is
// what makes a check followed by a write exact.
import type { ActiveKey } from "../storage/active-key";
import type { BucketState } from "../upstream/v4-bucket";

const SCHEMA = ["CREATE TABLE IF NOT EXISTS control (name TEXT PRIMARY KEY, value TEXT NOT NULL)"];

/** Rows of the control table, one per piece of account-wide state. */
interface ControlValues {
  /** The key chosen with PUT /v1/active-key. */
  active_key: ActiveKey;
  /** The v4 token bucket and the breaker. */
  v4_bucket: BucketState;
  /** Set once the KV record `vend:v1:active-key` of an earlier version has been read (and moved over if present). */
  legacy_active_key_read: true;
}

export class AccountTables {
  constructor(private readonly sql: SqlStorage) {
    for (const statement of SCHEMA) sql.exec(statement);
  }

  // --- control ---

  control<K extends keyof ControlValues>(name: K): ControlValues[K] | undefined {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM control WHERE name = ?", name).toArray()[0];
    return row ? (JSON.parse(row.value) as ControlValues[K]) : undefined;
  }

  setControl<K extends keyof ControlValues>(name: K, value: ControlValues[K]): void {
    this.sql.exec("INSERT OR REPLACE INTO control (name, value) VALUES (?, ?)", name, JSON.stringify(value));
  }
}
