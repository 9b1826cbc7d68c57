// The account object: one SQLite-backed Durable Object (named ACCOUNT_OBJECT_NAME) holding the control state
// of the account turnvend manages, where it must be exact and seen at once by every isolate and location:
// - the active key (PUT /v1/active-key);
// - turnvend's budget of v4 calls and the rate-limit breaker (src/upstream/v4-bucket.ts).
// Schema and costs: docs/storage-schema.md ("The account object"). The Worker reaches it only through
// src/storage/account-state-client.ts.
import { DurableObject } from "cloudflare:workers";
import { V4_READ_LEASE_TOKENS } from "../constants";
import { type Config, requireConfig } from "../config";
import { log } from "../observability/log";
import type { AccountControl } from "../storage/account-state-client";
import { type ActiveKey, readLegacyActiveKey } from "../storage/active-key";
import {
  fullBucket,
  refill,
  take,
  trip,
  type V4BudgetView,
  type V4CallKind,
  type V4Grant,
  view,
} from "../upstream/v4-bucket";
import { AccountTables } from "./account-tables";

export class AccountState extends DurableObject<Env> implements AccountControl {
  private readonly tables: AccountTables;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.tables = new AccountTables(ctx.storage.sql);
  }

  // --- the v4 budget and the breaker ---

  async leaseV4(kind: V4CallKind, want: number): Promise<V4Grant> {
    const count = Math.max(1, Math.min(V4_READ_LEASE_TOKENS, Math.floor(want)));
    return this.takeTokens(requireConfig(this.env), kind === "write" ? "write" : "read", count);
  }

  async tripBreaker(retryAfterSeconds: number): Promise<void> {
    this.trip(requireConfig(this.env), retryAfterSeconds);
  }

  async v4Budget(): Promise<V4BudgetView> {
    const { v4Budget } = requireConfig(this.env);
    const now = Date.now();
    return view(this.tables.control("v4_bucket") ?? fullBucket(v4Budget, now), v4Budget, now);
  }

  private takeTokens(config: Config, kind: V4CallKind, want: number): V4Grant {
    const now = Date.now();
    const { state, grant } = take(
      this.tables.control("v4_bucket") ?? fullBucket(config.v4Budget, now),
      config.v4Budget,
      kind,
      want,
      now,
    );
    // Refilling is a function of time alone: only a grant changes what must be stored.
    if (grant.granted > 0) this.tables.setControl("v4_bucket", state);
    return grant;
  }

  private trip(config: Config, retryAfterSeconds: number): void {
    const now = Date.now();
    const current = refill(this.tables.control("v4_bucket") ?? fullBucket(config.v4Budget, now), config.v4Budget, now);
    this.tables.setControl("v4_bucket", trip(current, retryAfterSeconds, now));
    log("upstream.breaker_opened", { retry_after_s: retryAfterSeconds });
  }

  // --- the active key ---

  async activeKey(): Promise<ActiveKey | null> {
    const stored = this.tables.control("active_key");
    if (stored || this.tables.control("legacy_active_key_read")) return stored ?? null;
    // Moving over, once: the choice an earlier version kept in KV.
    const legacy = await readLegacyActiveKey(this.env.TURNVEND_KV);
    // A PUT may have landed while KV was read; it wins.
    const meanwhile = this.tables.control("active_key");
    if (meanwhile) return meanwhile;
    if (legacy) this.tables.setControl("active_key", legacy);
    this.tables.setControl("legacy_active_key_read", true);
    if (legacy) log("active_key.moved_over", { key_id: legacy.key_id });
    return legacy ?? null;
  }

  async setActiveKey(doc: ActiveKey): Promise<void> {
    this.tables.setControl("active_key", { key_id: doc.key_id, set_by: doc.set_by, set_at: doc.set_at });
    // A key chosen here supersedes whatever an earlier version left in KV.
    this.tables.setControl("legacy_active_key_read", true);
  }
}
