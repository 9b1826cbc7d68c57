// The Worker's side of the account object (src/objects/account-state.ts): what it can be asked, and the one
// place where failing to reach it becomes a deliberate 503 with Retry-After, never a 500. Schema of what the
// object keeps: docs/storage-schema.md ("The account object").
import { ACCOUNT_OBJECT_NAME, ACCOUNT_STATE_RETRY_AFTER_SECONDS } from "../constants";
import type { TurnKey } from "../contract/responses";
import { Failure, type FailureDetail, type FailureKind } from "../errors";
import { log } from "../observability/log";
import type { V4BudgetView, V4CallKind, V4Grant } from "../upstream/v4-bucket";
import type { V4Allowance } from "../upstream/v4-budget";
import type { ActiveKey } from "./active-key";
import type { GuardChange, GuardSettlement, GuardView, IngestOutcome, UsageIngest, UsageReport } from "./usage-api";

/** A Failure as plain data: RPC carries an Error's message but not its kind, so expected failures travel as values. */
export interface FailureShape {
  kind: FailureKind;
  message: string;
  retryAfterSeconds?: number;
  detail?: FailureDetail;
  upstreamStatus?: number;
}

export type Reply<T> = { ok: true; value: T } | { ok: false; failure: FailureShape };

export interface CreateKeyRequest {
  /** Exactly the name the caller sent; undefined when none. It reaches Cloudflare unchanged. */
  name: string | undefined;
  /** The caller's display id, for logs and `created_by`. */
  callerId: string;
  /** Caller.principal: Idempotency-Keys are its own. */
  principal: string;
  idempotencyKey: string | undefined;
  /** keys:reveal: only then does the one-time secret travel back from the object. */
  reveal: boolean;
}

export interface CreateKeyReply {
  status: number;
  key: TurnKey;
  /** The one-time secret, only when `reveal` was asked for. */
  secret?: string;
  replayed: boolean;
}

/** Everything the account object answers. It implements this; the Worker calls it only through AccountStateClient. */
export interface AccountControl {
  createKey(req: CreateKeyRequest): Promise<Reply<CreateKeyReply>>;
  leaseV4(kind: V4CallKind, want: number): Promise<V4Grant>;
  tripBreaker(retryAfterSeconds: number): Promise<void>;
  v4Budget(): Promise<V4BudgetView>;
  activeKey(): Promise<ActiveKey | null>;
  setActiveKey(doc: ActiveKey): Promise<void>;
  ingestUsage(run: UsageIngest): Promise<IngestOutcome>;
  recordUsageFailure(error: string): Promise<void>;
  guardState(): Promise<GuardView>;
  changeGuard(change: GuardChange): Promise<{ guard: GuardView; cleared: boolean }>;
  settleGuard(done: GuardSettlement): Promise<void>;
  usageReport(user: string | undefined): Promise<UsageReport>;
}

export function toReplyFailure(err: Failure): FailureShape {
  return {
    kind: err.kind,
    message: err.message,
    retryAfterSeconds: err.retryAfterSeconds,
    detail: err.detail,
    upstreamStatus: err.upstreamStatus,
  };
}

/** The value of a reply, or its failure thrown as the Failure it was. */
export function unwrap<T>(reply: Reply<T>): T {
  if (reply.ok) return reply.value;
  const { kind, message, ...opts } = reply.failure;
  throw new Failure(kind, message, opts);
}

export class AccountStateClient implements V4Allowance {
  constructor(private readonly namespace: Env["ACCOUNT_STATE"] | undefined) {}

  createKey(req: CreateKeyRequest): Promise<CreateKeyReply> {
    return this.ask("create_key", async (o) => unwrap(await o.createKey(req)));
  }

  lease(kind: V4CallKind, want: number): Promise<V4Grant> {
    return this.ask("lease_v4", (o) => o.leaseV4(kind, want));
  }

  trip(retryAfterSeconds: number): Promise<void> {
    return this.ask("trip_breaker", (o) => o.tripBreaker(retryAfterSeconds));
  }

  view(): Promise<V4BudgetView> {
    return this.ask("v4_budget", (o) => o.v4Budget());
  }

  activeKey(): Promise<ActiveKey | null> {
    return this.ask("active_key", (o) => o.activeKey());
  }

  setActiveKey(doc: ActiveKey): Promise<void> {
    return this.ask("set_active_key", (o) => o.setActiveKey(doc));
  }

  ingestUsage(run: UsageIngest): Promise<IngestOutcome> {
    return this.ask("ingest_usage", (o) => o.ingestUsage(run));
  }

  recordUsageFailure(error: string): Promise<void> {
    return this.ask("record_usage_failure", (o) => o.recordUsageFailure(error));
  }

  guardState(): Promise<GuardView> {
    return this.ask("guard_state", (o) => o.guardState());
  }

  changeGuard(change: GuardChange): Promise<{ guard: GuardView; cleared: boolean }> {
    return this.ask("change_guard", (o) => o.changeGuard(change));
  }

  settleGuard(done: GuardSettlement): Promise<void> {
    return this.ask("settle_guard", (o) => o.settleGuard(done));
  }

  usageReport(user: string | undefined): Promise<UsageReport> {
    return this.ask("usage_report", (o) => o.usageReport(user));
  }

  /** One RPC call; anything thrown on the way (the object restarting, overloaded, unreachable) is a 503. */
  private async ask<T>(what: string, call: (object: AccountControl) => Promise<T>): Promise<T> {
    if (!this.namespace) {
      throw new Failure("not_configured", "turnvend is not configured: the ACCOUNT_STATE binding is missing");
    }
    // The stub speaks AccountControl: src/objects/account-state.ts declares `implements AccountControl`.
    const object = this.namespace.get(this.namespace.idFromName(ACCOUNT_OBJECT_NAME)) as unknown as AccountControl;
    try {
      return await call(object);
    } catch (err) {
      if (err instanceof Failure) throw err;
      log("account_state.unreachable", { call: what, error: err instanceof Error ? err.name : "unknown" });
      throw new Failure("account_state_unavailable", "turnvend's account state cannot be reached; try again shortly", {
        retryAfterSeconds: ACCOUNT_STATE_RETRY_AFTER_SECONDS,
      });
    }
  }
}
