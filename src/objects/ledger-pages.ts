// One user's ledger in its object's SQLite: every credential set issued to the user, up to
// LEDGER_PAGE_MAX_SETS sets per row (a page). Each vend rewrites the newest page, one row written however
// many sets it holds; what is dead on it (expired, and out of the quota window) goes in that same write.
// Older pages are deleted whole by the pruning alarm once all their sets are dead. Schema and costs:
// docs/storage-schema.md ("UserLedger"). The object keeps every page in memory too, so a call reads none.
import { LEDGER_PAGE_MAX_SETS, QUOTA_WINDOW_MS } from "../constants";
import type { IceServer } from "../contract/responses";
import { reportUsage } from "../observability/usage";
import type { ObjectUsage } from "../vend/objects-api";
import type { Sql } from "./sql";

/** One credential set as stored. Short keys: a page of 32 is rewritten on every vend. */
export interface StoredSet {
  /** Issued at (epoch ms): the quota counts it for 24 hours from here. */
  at: number;
  /** Expires at (epoch ms). */
  exp: number;
  /** The TURN key that minted it. */
  key: string;
  /** Who asked: "end_user" or "caller:<id>". */
  by: string;
  ttl: number;
  /** Its usernames still outstanding: a revoked one is removed. */
  u: string[];
  /**
   * The set as browsers got it (it holds the credentials), only while the reuse window is on and it may be
   * handed out again; dropped on revocation and when its page is next rewritten after that.
   */
  ice?: IceServer[];
  /** The provider, when not Cloudflare alone: "s" self-hosted (then `key` is SELF_HOSTED_KEY_ID), "b" both. */
  p?: "s" | "b";
  /** In a "b" set: its self-hosted usernames, which nothing upstream can revoke. */
  sh?: string[];
  /** 1 when the preferred provider failed: never handed out again. */
  dg?: 1;
}

interface Page {
  id: number;
  sets: StoredSet[];
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS ledger_pages (
  id INTEGER PRIMARY KEY,
  keep_until INTEGER NOT NULL,
  sets TEXT NOT NULL
) STRICT`;

/** Until when a set is needed: its credentials may be revoked until they expire, and it counts toward the quota for 24 hours. */
export function keepUntil(set: StoredSet): number {
  return Math.max(set.exp, set.at + QUOTA_WINDOW_MS);
}

const pageKeepUntil = (sets: StoredSet[]) => Math.max(...sets.map(keepUntil));

export class LedgerPages {
  private pages: Page[] = [];
  private schemaReady = false;

  constructor(private readonly sql: Sql) {}

  // Reads every page: once, when the object starts. An object that never recorded a set has no table yet,
  // and a lookup does not make one: only a first write does, so a revocation of an unknown user stores nothing.
  load(usage: ObjectUsage): void {
    const [table] = this.sql.all(usage, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_pages'");
    if (!table) return;
    this.schemaReady = true;
    this.pages = this.sql
      .all<{ id: number; sets: string }>(usage, "SELECT id, sets FROM ledger_pages ORDER BY id")
      .map((row) => ({ id: row.id, sets: JSON.parse(row.sets) as StoredSet[] }));
  }

  // After the object's storage was deleted: nothing held, and the table is made again on the next write.
  reset(): void {
    this.pages = [];
    this.schemaReady = false;
  }

  get isEmpty(): boolean {
    return this.pages.length === 0;
  }

  // Every set, newest page first, and within a page the latest written first.
  *newestFirst(): Generator<StoredSet> {
    for (let p = this.pages.length - 1; p >= 0; p--) {
      const sets = this.pages[p].sets;
      for (let i = sets.length - 1; i >= 0; i--) yield sets[i];
    }
  }

  // Records a new set on the newest page (one row written), first dropping from that page what is dead and
  // the credentials of sets that may no longer be handed out (`reusable` false). A full page starts a new one.
  append(set: StoredSet, now: number, usage: ObjectUsage, reusable: (set: StoredSet) => boolean): void {
    this.ensureSchema(usage);
    const open = this.pages.at(-1);
    const kept = (open?.sets ?? [])
      .filter((s) => keepUntil(s) > now)
      .map((s) => (s.ice && !reusable(s) ? withoutIce(s) : s));
    if (open && kept.length < LEDGER_PAGE_MAX_SETS) {
      const sets = [...kept, set];
      this.write(open.id, sets, usage, "update");
      open.sets = sets;
    } else {
      const id = (open?.id ?? 0) + 1;
      this.write(id, [set], usage, "insert");
      this.pages.push({ id, sets: [set] });
    }
  }

  // Applies `change` to every set (it returns the set itself when unchanged); rewrites each page that changed.
  update(change: (set: StoredSet) => StoredSet, usage: ObjectUsage): void {
    for (const page of this.pages) {
      const sets = page.sets.map(change);
      if (sets.every((s, i) => s === page.sets[i])) continue;
      this.write(page.id, sets, usage, "update");
      page.sets = sets;
    }
  }

  // Deletes the pages whose every set is dead.
  prune(now: number, usage: ObjectUsage): void {
    if (!this.pages.some((p) => pageKeepUntil(p.sets) <= now)) return;
    const deleted = this.sql.run(usage, "DELETE FROM ledger_pages WHERE keep_until <= ?", now);
    reportUsage("sql_rows_to_prune", -deleted);
    this.pages = this.pages.filter((p) => pageKeepUntil(p.sets) > now);
  }

  // When the first page can go; undefined when there is none.
  earliestKeepUntil(): number | undefined {
    return this.pages.length === 0 ? undefined : Math.min(...this.pages.map((p) => pageKeepUntil(p.sets)));
  }

  private write(id: number, sets: StoredSet[], usage: ObjectUsage, how: "insert" | "update"): void {
    const json = JSON.stringify(sets);
    if (how === "insert") {
      this.sql.run(
        usage,
        "INSERT INTO ledger_pages (id, keep_until, sets) VALUES (?, ?, ?)",
        id,
        pageKeepUntil(sets),
        json,
      );
      reportUsage("sql_rows_to_prune", 1);
    } else {
      this.sql.run(
        usage,
        "UPDATE ledger_pages SET keep_until = ?, sets = ? WHERE id = ?",
        pageKeepUntil(sets),
        json,
        id,
      );
    }
  }

  private ensureSchema(usage: ObjectUsage): void {
    if (this.schemaReady) return;
    this.sql.run(usage, SCHEMA);
    this.schemaReady = true;
  }
}

/** The set without its credentials: it is never handed out again. */
export function withoutIce(set: StoredSet): StoredSet {
  const { ice: _ice, ...rest } = set;
  return rest;
}
