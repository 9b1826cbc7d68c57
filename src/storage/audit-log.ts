// The audit trail in KV. Each event is one key whose name sorts newest first and whose metadata holds
// the event, so a page of events is one KV list with no per-event reads. Schema: docs/storage-schema.md.

import type { AuditEvent } from "../contract/responses";

const PREFIX = "audit:v1:";
// Inverting the timestamp makes KV's ascending key order read newest first.
const TIME_CEILING_MS = 9_999_999_999_999;

export class AuditLog {
  constructor(
    private readonly kv: KVNamespace,
    private readonly retentionDays: number,
  ) {}

  async record(event: AuditEvent): Promise<void> {
    const inverted = String(TIME_CEILING_MS - Date.parse(event.time)).padStart(13, "0");
    const unique = crypto.randomUUID().slice(0, 8);
    await this.kv.put(`${PREFIX}${inverted}:${unique}`, "", {
      metadata: event,
      expirationTtl: this.retentionDays * 86_400,
    });
  }

  /** A page of events, newest first, and the cursor for the next page (null at the end). */
  async page(limit: number, cursor: string | undefined): Promise<{ events: AuditEvent[]; cursor: string | null }> {
    const res: KVNamespaceListResult<AuditEvent> = await this.kv.list<AuditEvent>({ prefix: PREFIX, limit, cursor });
    return {
      events: res.keys.flatMap((k) => (k.metadata ? [k.metadata] : [])),
      cursor: res.list_complete ? null : res.cursor,
    };
  }
}
