// The audit trail in KV. Each event is one key whose name sorts newest first and whose metadata holds
// the event, so a page of events is one KV list with no per-event reads. Schema: docs/storage-schema.md.

import { AUDIT_REFUSAL_WINDOW_MS } from "../constants";
import type { AuditEvent } from "../contract/responses";

const PREFIX = "audit:v1:";
// Inverting the timestamp makes KV's ascending key order read newest first.
const TIME_CEILING_MS = 9_999_999_999_999;

interface RefusalMemory {
  /** The window (AUDIT_REFUSAL_WINDOW_MS) of this isolate's last refused entry for the caller and action. */
  window: number;
  /** Refusals since then that this isolate did not write. */
  suppressed: number;
}

// Per isolate, by action and caller. Both come from fixed lists (the audited routes, the caller tables in
// configuration), so the map stays small without eviction.
const refusals = new Map<string, RefusalMemory>();

/** Forgets the refusals this isolate counted (tests; another isolate starts with none). */
export function forgetRefusalMemory(): void {
  refusals.clear();
}

export class AuditLog {
  constructor(
    private readonly kv: KVNamespace,
    private readonly retentionDays: number,
  ) {}

  async record(event: AuditEvent): Promise<void> {
    const unique = crypto.randomUUID().slice(0, 8);
    await this.put(`${PREFIX}${inverted(Date.parse(event.time))}:${unique}`, event);
  }

  /**
   * Records a refused attempt, at most one per caller, action and window. The entry's key is the same for
   * every isolate (the window's last millisecond, then action and caller), so isolates refusing the same
   * caller in the same window overwrite one entry instead of adding their own. Later refusals in the window
   * are counted here and reported as `suppressed` on this isolate's next entry for the caller and action.
   */
  async recordRefusal(event: AuditEvent): Promise<void> {
    const window = Math.floor(Date.parse(event.time) / AUDIT_REFUSAL_WINDOW_MS);
    const id = `${event.action} ${event.caller}`;
    const seen = refusals.get(id);
    if (seen?.window === window) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    const mine: RefusalMemory = { window, suppressed: 0 };
    refusals.set(id, mine);
    const windowEnd = (window + 1) * AUDIT_REFUSAL_WINDOW_MS - 1;
    try {
      await this.put(`${PREFIX}${inverted(windowEnd)}:refused:${event.action}:${event.caller}`, {
        ...event,
        suppressed,
      });
    } catch (err) {
      // Neither this refusal nor those counted before it reached KV: the next entry reports them all.
      mine.suppressed += suppressed + 1;
      throw err;
    }
  }

  /** A page of events, newest first, and the cursor for the next page (null at the end). */
  async page(limit: number, cursor: string | undefined): Promise<{ events: AuditEvent[]; cursor: string | null }> {
    const res: KVNamespaceListResult<AuditEvent> = await this.kv.list<AuditEvent>({ prefix: PREFIX, limit, cursor });
    return {
      events: res.keys.flatMap((k) => (k.metadata ? [k.metadata] : [])),
      cursor: res.list_complete ? null : res.cursor,
    };
  }

  private async put(key: string, event: AuditEvent): Promise<void> {
    await this.kv.put(key, "", { metadata: event, expirationTtl: this.retentionDays * 86_400 });
  }
}

function inverted(ms: number): string {
  return String(TIME_CEILING_MS - ms).padStart(13, "0");
}
