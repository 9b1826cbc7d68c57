// SQLite in a Durable Object, with the rows every statement read and wrote (the cursor's rowsRead and
// rowsWritten: what Cloudflare bills) added to the caller's tally and to the usage meter.
import { reportUsage } from "../observability/usage";
import type { ObjectUsage } from "../vend/objects-api";

export type Row = Record<string, SqlStorageValue>;

/** Rows read and written by one object call. */
export function emptyUsage(): ObjectUsage {
  return { rowsRead: 0, rowsWritten: 0 };
}

export class Sql {
  constructor(private readonly sql: SqlStorage) {}

  // Runs one statement to completion and returns its rows.
  all<T extends Row>(usage: ObjectUsage, query: string, ...params: SqlStorageValue[]): T[] {
    const cursor = this.sql.exec<T>(query, ...params);
    const rows = cursor.toArray();
    usage.rowsRead += cursor.rowsRead;
    usage.rowsWritten += cursor.rowsWritten;
    reportUsage("sql_rows_read", cursor.rowsRead);
    reportUsage("sql_rows_written", cursor.rowsWritten);
    return rows;
  }

  // Runs one statement that returns no rows; answers the rows it wrote.
  run(usage: ObjectUsage, query: string, ...params: SqlStorageValue[]): number {
    const before = usage.rowsWritten;
    this.all(usage, query, ...params);
    return usage.rowsWritten - before;
  }
}
