// Idempotency records as versions before the account object wrote them to KV (`idem:v2:`), read-only. The
// account object keeps every record itself now (src/objects/account-tables.ts); for the 24 hours after it
// first starts, a create whose Idempotency-Key it does not know reads the old record here, so a client
// retrying across the upgrade still gets its replay (docs/storage-schema.md, "Moving over").
import type { TurnKey } from "../contract/responses";

/** An `idem:v2:` record as earlier versions wrote it. */
export interface LegacyIdempotencyRecord {
  v: 1;
  /** in_flight: a create was running; unknown: it timed out and may have happened; done: result stored. */
  state: "in_flight" | "unknown" | "done";
  /** SHA-256 of the request body `{ name }`, computed the same way today. */
  body_hash: string;
  started_at: number;
  /** The marker those versions put at the end of the upstream key's name (` ~tv-<tag>`). */
  tag: string;
  /** The replayable answer; never the secret, which stays sealed in custody. */
  result?: { status: number; key: TurnKey };
}

export class LegacyIdempotencyRecords {
  constructor(private readonly kv: KVNamespace) {}

  /**
   * The record stored under `id`: the SHA-256 (hex) of the JSON array [principal, Idempotency-Key], which is
   * also the id the account object keys its own records by.
   */
  async get(id: string): Promise<LegacyIdempotencyRecord | undefined> {
    const rec = await this.kv.get<LegacyIdempotencyRecord>(`idem:v2:${id}`, "json");
    return rec?.v === 1 && typeof rec.body_hash === "string" && typeof rec.tag === "string" ? rec : undefined;
  }
}

/**
 * True when `name` carries the marker an earlier version gave the create with this tag. Only records read
 * above have tags: turnvend no longer changes names, and this is how a lost create of an earlier version is
 * still found after the upgrade.
 */
export function hasLegacyTag(name: string, tag: string): boolean {
  return name === `~tv-${tag}` || name.endsWith(` ~tv-${tag}`);
}
