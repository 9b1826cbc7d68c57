// Idempotency records for key creation, per authenticated caller (its principal, never its display id),
// kept 24 hours. Schema: docs/storage-schema.md.
import { IDEMPOTENCY_TTL_SECONDS } from "../constants";
import type { TurnKey } from "../contract/responses";
import { sha256Hex } from "../crypto/hex";

export interface IdempotencyRecord {
  v: 1;
  /** in_flight: a create is running; unknown: it timed out and may have happened; done: result stored. */
  state: "in_flight" | "unknown" | "done";
  /** SHA-256 of the request body, so a different body under the same key is refused. */
  body_hash: string;
  started_at: number;
  /** The marker put in the upstream key's name, to find the key if the answer is lost. */
  tag: string;
  /** The replayable answer; never the secret, which stays sealed in custody. */
  result?: { status: number; key: TurnKey };
}

export class IdempotencyStore {
  constructor(private readonly kv: KVNamespace) {}

  async get(principal: string, idempotencyKey: string): Promise<IdempotencyRecord | undefined> {
    const rec = await this.kv.get<IdempotencyRecord>(await this.key(principal, idempotencyKey), "json");
    return rec?.v === 1 ? rec : undefined;
  }

  async put(principal: string, idempotencyKey: string, rec: IdempotencyRecord): Promise<void> {
    await this.kv.put(await this.key(principal, idempotencyKey), JSON.stringify(rec), {
      expirationTtl: IDEMPOTENCY_TTL_SECONDS,
    });
  }

  async delete(principal: string, idempotencyKey: string): Promise<void> {
    await this.kv.delete(await this.key(principal, idempotencyKey));
  }

  // One hash of both: header bytes never become part of a KV key, the principal's token hash is not
  // listed in KV, and the JSON pair cannot be read two ways (a common_name may hold ":").
  private async key(principal: string, idempotencyKey: string): Promise<string> {
    return `idem:v2:${await sha256Hex(JSON.stringify([principal, idempotencyKey]))}`;
  }
}
