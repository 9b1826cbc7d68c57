// The account object: one SQLite-backed Durable Object (named ACCOUNT_OBJECT_NAME) holding the control state
// of the account turnvend manages, where it must be exact and seen at once by every isolate and location:
// - creates, run here one at a time, and their Idempotency-Key records (src/keys/create.ts);
// - the active key (PUT /v1/active-key);
// - turnvend's budget of v4 calls and the rate-limit breaker (src/upstream/v4-bucket.ts).
// Schema and costs: docs/storage-schema.md ("The account object"). The Worker reaches it only through
// src/storage/account-state-client.ts.
//
// Why the upstream create runs here and not in the Worker under a lease: the "before" list, the create and the
// list that settles a lost answer must have no other turnvend create between them. Here that is one queue in
// one thread, for one object request per create. A lease held by a Worker can expire while Cloudflare is still
// answering, and a Worker is cancelled when its client hangs up; this object keeps running and finishes the
// bookkeeping (custody, the record) either way. It calls Cloudflare with the account token from its own env.
import { DurableObject } from "cloudflare:workers";
import {
  CREATE_ATTEMPT_BUDGET,
  CREATE_DEADLINE_MS,
  CREATE_QUEUE_MAX,
  CREATE_QUEUE_WAIT_MS,
  IDEMPOTENCY_TTL_SECONDS,
  V4_READ_LEASE_TOKENS,
} from "../constants";
import { type Config, requireConfig } from "../config";
import { Failure } from "../errors";
import { admitCreate, type CreateDeps, prepareCreate, releaseCreate, replayCreate, runCreate } from "../keys/create";
import { log } from "../observability/log";
import {
  type AccountControl,
  type CreateKeyReply,
  type CreateKeyRequest,
  type Reply,
  toReplyFailure,
} from "../storage/account-state-client";
import { type ActiveKey, readLegacyActiveKey } from "../storage/active-key";
import { LegacyIdempotencyRecords } from "../storage/idempotency";
import { KeySecrets } from "../storage/key-secrets";
import { UpstreamBudget } from "../upstream/budget";
import { CloudflareApi } from "../upstream/cloudflare-api";
import {
  fullBucket,
  refill,
  refusal,
  take,
  trip,
  type V4BudgetView,
  type V4CallKind,
  type V4Grant,
  view,
} from "../upstream/v4-bucket";
import type { V4Gate } from "../upstream/v4-budget";
import type {
  GuardChange,
  GuardSettlement,
  GuardView,
  IngestOutcome,
  UsageIngest,
  UsageReport,
} from "../storage/usage-api";
import { AccountTables } from "./account-tables";
import { CreateQueue } from "./create-queue";
import { UsageTables } from "./usage-tables";

export class AccountState extends DurableObject<Env> implements AccountControl {
  private readonly tables: AccountTables;
  private readonly usage: UsageTables;
  /** Ids of the creates this instance has admitted and not finished: a duplicate of one gets 409. */
  private readonly running = new Set<string>();
  private readonly queue = new CreateQueue(CREATE_QUEUE_MAX, CREATE_QUEUE_WAIT_MS);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.tables = new AccountTables(ctx.storage.sql);
    // The control table holds the guard's rows too (ControlValues names them): the usage tables reach it
    // through the two calls they need.
    this.usage = new UsageTables(ctx.storage.sql, this.tables);
    if (this.tables.control("installed_at") === undefined) this.tables.setControl("installed_at", Date.now());
  }

  // --- creates ---

  async createKey(req: CreateKeyRequest): Promise<Reply<CreateKeyReply>> {
    try {
      const deps = this.createDeps();
      this.tables.pruneExpired(deps.now());
      const prepared = await prepareCreate(deps, req);
      const admission = admitCreate(deps, req, prepared, this.running);
      if (admission.kind === "replay")
        return { ok: true, value: await replayCreate(deps, admission.record, req.reveal) };
      const { id } = admission;
      this.running.add(id);
      let started = false;
      try {
        const value = await this.queue.run(() => {
          started = true;
          return runCreate(deps, id, prepared.bodyHash, req, this.running);
        });
        return { ok: true, value };
      } catch (err) {
        if (!started) releaseCreate(deps, id);
        throw err;
      } finally {
        this.running.delete(id);
      }
    } catch (err) {
      // Expected failures travel as values; anything else is the object failing, which the Worker answers with 503.
      if (err instanceof Failure) return { ok: false, failure: toReplyFailure(err) };
      throw err;
    }
  }

  private createDeps(): CreateDeps {
    const config = requireConfig(this.env);
    const installedAt = this.tables.control("installed_at") ?? Date.now();
    // Earlier versions' records live 24 hours in KV: past that after this object first started, none is left.
    const legacyOpen = Date.now() - installedAt < IDEMPOTENCY_TTL_SECONDS * 1000;
    return {
      api: new CloudflareApi(
        config,
        this.gate(config),
        new UpstreamBudget(config.upstreamTimeoutMs, CREATE_ATTEMPT_BUDGET, CREATE_DEADLINE_MS),
      ),
      secrets: new KeySecrets(this.env.TURNVEND_KV, config.keyEncryptionKeys),
      records: this.tables,
      legacy: legacyOpen ? new LegacyIdempotencyRecords(this.env.TURNVEND_KV) : undefined,
      now: Date.now,
      waitUntil: (work) => this.ctx.waitUntil(work),
    };
  }

  // --- the v4 budget and the breaker ---

  async leaseV4(kind: V4CallKind, want: number): Promise<V4Grant> {
    // Only turnvend's own isolates call this, but a count is clamped all the same: 1 to a read lease.
    const count = Number.isFinite(want) ? Math.max(1, Math.min(V4_READ_LEASE_TOKENS, Math.floor(want))) : 1;
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

  /** The object's own calls (creates) spend from the same bucket, without an object request of their own. */
  private gate(config: Config): V4Gate {
    return {
      // The object's creates spend a token on every attempt; the breaker check comes with it.
      assertAvailable: async () => {},
      spend: async (kind) => {
        const grant = this.takeTokens(config, kind, 1);
        const refused = refusal(grant, Date.now());
        if (refused) throw refused;
      },
      trip: async (retryAfterSeconds) => this.trip(config, retryAfterSeconds),
    };
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

  // --- usage and the bill's guard (src/objects/usage-tables.ts) ---

  async ingestUsage(run: UsageIngest): Promise<IngestOutcome> {
    return this.usage.ingest(run, requireConfig(this.env).guard);
  }

  async recordUsageFailure(error: string): Promise<void> {
    this.usage.recordFailure(Date.now(), error.slice(0, 300));
  }

  async guardState(): Promise<GuardView> {
    return this.usage.guard(Date.now(), requireConfig(this.env).guard);
  }

  async changeGuard(change: GuardChange): Promise<{ guard: GuardView; cleared: boolean }> {
    let cleared = false;
    if (change.action === "clear_user") cleared = this.usage.clearBlock(change.user, Date.now());
    else this.usage.change(change);
    return { guard: this.usage.guard(Date.now(), requireConfig(this.env).guard), cleared };
  }

  async settleGuard(done: GuardSettlement): Promise<void> {
    this.usage.settle(done);
  }

  async usageReport(user: string | undefined): Promise<UsageReport> {
    return this.usage.report(Date.now(), requireConfig(this.env).guard, user);
  }
}
