// One user's own Durable Object, named by the subject's keyed hash (idFromName(subjectHash)): everything
// about that user that must be exact, in one single-threaded place. It holds the user's ledger (every
// credential set, for revocation), counts the quota (sets in a rolling 24 hours) and the per-user request
// bound (a rolling minute), keeps the reuse set, and prunes by alarm. A vend is one call: the object admits
// it, reserves its place in the quota, mints the set upstream and records it before answering, so no
// credential leaves unrecorded and concurrent vends of one user cannot overrun the quota. Why this state
// lives in an object and what each row costs: docs/storage-schema.md ("UserLedger").
import { DurableObject } from "cloudflare:workers";
import {
  DEFAULT_RETRY_AFTER_SECONDS,
  LEAK_BLOCK_RETRY_AFTER_SECONDS,
  LEDGER_PRUNE_SLACK_MS,
  QUOTA_WINDOW_MS,
  SELF_HOSTED_KEY_ID,
  USER_RATE_WINDOW_MS,
  VEND_DEADLINE_FLOOR_MS,
  VEND_FAILOVER_RESERVE_MS,
} from "../constants";
import { Failure, toFailureData } from "../errors";
import { log } from "../observability/log";
import { reportUsage } from "../observability/usage";
import type { UserBlock } from "../storage/usage-api";
import { UpstreamBudget } from "../upstream/budget";
import { credentialUsernames, RtcApi } from "../upstream/rtc-api";
import { selectIceUrls, shapeIceServers } from "../vend/browser-ice-servers";
import type {
  CloudflareCall,
  HeldCredential,
  ObjectUsage,
  OutstandingQuery,
  UserLedgerApi,
  VendCall,
  VendedSet,
  VendOutcome,
} from "../vend/objects-api";
import { mintSelfHosted } from "../vend/self-hosted";
import type { Provider } from "../contract/responses";
import { Activity } from "./activity";
import { LedgerPages, type StoredSet, withoutIce } from "./ledger-pages";
import { emptyUsage, Sql } from "./sql";

/**
 * A set found when this much older than the reuse window ends the search: sets are stored in the order
 * they were recorded, which differs from the order they were issued by at most one upstream call.
 */
const REUSE_SCAN_SLACK_MS = 60_000;

export class UserLedger extends DurableObject<Env> implements UserLedgerApi {
  private readonly pages: LedgerPages;
  private readonly activity = new Activity();
  // Issue times (epoch ms, ascending) of the sets in the quota window: recorded ones and reserved ones.
  private issued: number[] = [];
  // Times (epoch ms, ascending) of the requests admitted in the last minute, reused sets included.
  private requests: number[] = [];
  // When the pruning alarm is set for, or null when none is.
  private alarmAt: number | null = null;
  // The bill's guard's block on this user (docs/storage-schema.md, "UserLedger"), held in memory: a vend
  // checks it with no storage read. One row in `guard_block` while set.
  private blocked: UserBlock | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.pages = new LedgerPages(new Sql(ctx.storage.sql));
    void ctx.blockConcurrencyWhile(() => this.load());
  }

  private async load(): Promise<void> {
    this.pages.load(emptyUsage());
    this.blocked = this.readBlock();
    this.alarmAt = await this.ctx.storage.getAlarm();
    // The request bound starts from the sets recorded in its window: a restarted object forgets only the
    // reused sets it handed out (they cost nothing upstream).
    const now = Date.now();
    const times = [...this.pages.newestFirst()].map((set) => set.at).sort((x, y) => x - y);
    this.issued = times.filter((t) => t > now - QUOTA_WINDOW_MS);
    this.requests = times.filter((t) => t > now - USER_RATE_WINDOW_MS);
  }

  async vend(call: VendCall): Promise<VendOutcome> {
    const done = this.activity.enter();
    const usage = emptyUsage();
    try {
      return await this.admitAndIssue(call, usage);
    } catch (err) {
      if (!(err instanceof Failure))
        log("user_ledger.vend_failed", { error: err instanceof Error ? err.name : "unknown" });
      const failure =
        err instanceof Failure
          ? err
          : new Failure("ledger_unavailable", "the user's credential ledger failed; try again", {
              retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
            });
      return { ok: false, failure: toFailureData(failure), cloudflare: "none", usage };
    } finally {
      done();
    }
  }

  private async admitAndIssue(call: VendCall, usage: ObjectUsage): Promise<VendOutcome> {
    const { policy } = call;
    const now = Date.now();

    // The guard's block comes first, from memory: an over-budget or leaking user costs nothing upstream.
    const block = this.activeBlock(now);
    if (block) throw blockedFailure(block, now);

    // The per-user bound counts every request, reused sets included.
    dropBefore(this.requests, now - USER_RATE_WINDOW_MS);
    if (policy.requestsPerMinute > 0 && this.requests.length >= policy.requestsPerMinute) {
      throw new Failure("rate_limited", "too many credential requests for this user; try again later", {
        retryAfterSeconds: secondsUntil(freedAt(this.requests, policy.requestsPerMinute) + USER_RATE_WINDOW_MS, now),
        detail: "rate_limited",
      });
    }
    insertSorted(this.requests, now);

    if (call.allowReuse && policy.reuseSeconds > 0) {
      const set = this.reusable(call, now);
      if (set?.ice) {
        const outcome: VendedSet = {
          iceServers: set.ice,
          usernames: [...set.u],
          selfHosted: set.p === "s" ? [...set.u] : [...(set.sh ?? [])],
          provider: storedProvider(set),
          degraded: false,
          issuedAt: set.at,
          expiresAt: set.exp,
        };
        return { ok: true, set: outcome, reused: true, cloudflare: "none", usage };
      }
    }

    // The quota, checked and reserved in one step: nothing else runs in this object until the first await,
    // so concurrent vends of one user each see the reservations before theirs.
    dropBefore(this.issued, now - QUOTA_WINDOW_MS);
    if (policy.setsPerDay > 0 && this.issued.length >= policy.setsPerDay) {
      throw new Failure(
        "quota_exceeded",
        `this user has had the ${policy.setsPerDay} credential sets allowed in 24 hours; Retry-After says when enough leave the window`,
        { retryAfterSeconds: secondsUntil(freedAt(this.issued, policy.setsPerDay) + QUOTA_WINDOW_MS, now) },
      );
    }
    insertSorted(this.issued, now);
    let recorded = false;
    let cloudflare: CloudflareCall = "none";
    try {
      const minted = await mintSet(call, now);
      cloudflare = minted.cloudflare;
      if (minted.stunOnly) {
        // Nothing was issued: no credential to record, no place in the quota taken.
        return {
          ok: true,
          set: { ...minted.set, issuedAt: now, expiresAt: now + call.ttl * 1000 },
          reused: false,
          cloudflare,
          usage,
        };
      }
      const { iceServers, usernames, selfHosted, provider, degraded, expiresAt } = minted.set;
      // The object accepts block() while the mint awaits upstream, and the guard's revocation reads the ledger
      // before this set is in it: a block that arrived meanwhile withdraws the set here, before anyone has it.
      // Self-hosted usernames cannot be revoked; they are simply never handed out.
      const lateBlock = this.activeBlock(Date.now());
      if (lateBlock) {
        const upstreamOnes = usernames.filter((u) => !selfHosted.includes(u));
        if (call.key && upstreamOnes.length > 0) await withdraw(call, call.key, upstreamOnes);
        log("vend.blocked_in_flight", { subject_hash: call.subjectHash, withdrawn: upstreamOnes.length });
        throw blockedFailure(lateBlock, Date.now());
      }
      // The lifetime counts from when the request was sent, so turnvend never claims more than Cloudflare grants.
      const set: StoredSet = {
        at: now,
        exp: expiresAt,
        key: call.key && provider !== "self-hosted" ? call.key.keyId : SELF_HOSTED_KEY_ID,
        by: call.issuedBy,
        ttl: call.ttl,
        u: usernames,
      };
      if (provider !== "cloudflare") set.p = provider === "both" ? "b" : "s";
      if (provider === "both") set.sh = selfHosted;
      if (degraded) set.dg = 1;
      if (policy.reuseSeconds > 0 && iceServers.length > 0 && !degraded) set.ice = iceServers;
      try {
        this.pages.append(set, Date.now(), usage, (s) => isReusable(s, Date.now(), policy.reuseSeconds));
      } catch (err) {
        // No credential stays out that turnvend cannot revoke: this one is withdrawn before anyone has it.
        log("vend.ledger_write_failed", {
          key_id: set.key,
          subject_hash: call.subjectHash,
          error: err instanceof Error ? err.message.slice(0, 200) : "unknown",
        });
        const upstreamOnes = usernames.filter((u) => !selfHosted.includes(u));
        if (call.key && upstreamOnes.length > 0) await withdraw(call, call.key, upstreamOnes);
        throw new Failure("ledger_unavailable", "the user's credential ledger cannot be written; try again", {
          retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
        });
      }
      recorded = true;
      await this.armAlarm();
      if (iceServers.length === 0) {
        log("vend.no_usable_urls", { key_id: set.key });
        throw new Failure("upstream_error", "Cloudflare returned no ICE server a browser can use");
      }
      return { ok: true, set: { ...minted.set, issuedAt: now }, reused: false, cloudflare, usage };
    } catch (err) {
      if (err instanceof Failure) return { ok: false, failure: toFailureData(err), cloudflare, usage };
      throw err;
    } finally {
      // A set that was never recorded was never handed out: its place in the quota is free again.
      if (!recorded) removeOne(this.issued, now);
    }
  }

  // The newest set this asker may be handed again: same kind of asker, TTL and key, young enough, not revoked.
  private reusable(call: VendCall, now: number): StoredSet | undefined {
    const windowMs = call.policy.reuseSeconds * 1000;
    const preferred = preferredProvider(call.providers.mode);
    for (const set of this.pages.newestFirst()) {
      if (now - set.at >= windowMs + REUSE_SCAN_SLACK_MS) return undefined;
      // Only a set the mode would issue now, from its preferred provider: never a degraded one.
      if (set.by !== call.issuedBy || set.ttl !== call.ttl || set.dg || storedProvider(set) !== preferred) continue;
      if (preferred !== "self-hosted" && set.key !== call.key?.keyId) continue;
      if (isReusable(set, now, call.policy.reuseSeconds)) return set;
    }
    return undefined;
  }

  async outstanding(query: OutstandingQuery): Promise<{ credentials: HeldCredential[]; more: boolean }> {
    const done = this.activity.enter();
    try {
      const now = Date.now();
      const credentials: HeldCredential[] = [];
      let more = false;
      const matches =
        "username" in query ? (set: StoredSet) => set.u.includes(query.username) : (_set: StoredSet) => true;
      for (const set of this.pages.newestFirst()) {
        if (!matches(set) || set.exp <= now) continue;
        for (const username of set.u) {
          // By username, that one; and in a `both` set, its self-hosted usernames too: they are the same set,
          // cannot be revoked, and the answer says so (not_revocable) instead of implying the set is dead.
          if ("username" in query && username !== query.username && !set.sh?.includes(username)) continue;
          if ("limit" in query && credentials.length >= query.limit) {
            more = true;
            break;
          }
          const keyId = set.sh?.includes(username) ? SELF_HOSTED_KEY_ID : set.key;
          credentials.push({ username, key_id: keyId, expires_at: new Date(set.exp).toISOString() });
        }
      }
      // Being revoked: from this moment no matching set is handed out again, whatever happens upstream.
      this.pages.update((set) => (set.ice && matches(set) ? withoutIce(set) : set), emptyUsage());
      return { credentials, more };
    } finally {
      done();
    }
  }

  async forget(revoked: string[], withheld: string[] = []): Promise<ObjectUsage> {
    const done = this.activity.enter();
    try {
      const usage = emptyUsage();
      const gone = new Set(revoked);
      const touched = new Set([...revoked, ...withheld]);
      this.pages.update((set) => {
        if (!set.u.some((u) => touched.has(u))) return set;
        const kept = withoutIce(set);
        return { ...kept, u: set.u.filter((u) => !gone.has(u)) };
      }, usage);
      return usage;
    } finally {
      done();
    }
  }

  async block(block: UserBlock): Promise<boolean> {
    const now = Date.now();
    const current = this.activeBlock(now);
    // A leak block (until cleared) is never shortened by a budget block's end.
    if (current && (current.until === null || (block.until !== null && current.until >= block.until))) return false;
    // deleteAll() (pruning an empty object) drops the table with the rest.
    this.ensureBlockTable();
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO guard_block (id, reason, since, until) VALUES (1, ?, ?, ?)",
      block.reason,
      block.since,
      block.until,
    );
    this.blocked = { ...block };
    // From now, no set is handed out again either (as for a revocation).
    this.pages.update((set) => (set.ice ? withoutIce(set) : set), emptyUsage());
    if (block.until !== null) await this.armAlarmAt(block.until);
    return true;
  }

  async clearBlock(): Promise<boolean> {
    const had = this.blocked !== null;
    if (had) this.ctx.storage.sql.exec("DROP TABLE IF EXISTS guard_block");
    this.blocked = null;
    if (had && this.pages.isEmpty) await this.armAlarmAt(Date.now());
    return had;
  }

  // The table exists only in the objects of users ever blocked: creating it in every object would add rows
  // written to every user's first vend. A missing table reads as no block.
  private readBlock(): UserBlock | null {
    const exists = this.ctx.storage.sql
      .exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'guard_block'")
      .toArray().length;
    if (!exists) return null;
    const row = this.ctx.storage.sql
      .exec<{ reason: string; since: number; until: number | null }>("SELECT reason, since, until FROM guard_block")
      .toArray()[0];
    return row ? { reason: row.reason as UserBlock["reason"], since: row.since, until: row.until } : null;
  }

  private ensureBlockTable(): void {
    this.ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS guard_block (id INTEGER PRIMARY KEY CHECK (id = 1), reason TEXT NOT NULL, since INTEGER NOT NULL, until INTEGER)",
    );
  }

  private activeBlock(now: number): UserBlock | null {
    const b = this.blocked;
    return b && (b.until === null || b.until > now) ? b : null;
  }

  // Pruning: deletes the pages whose sets are all dead; with none left, the object's storage goes entirely.
  override async alarm(): Promise<void> {
    const done = this.activity.enter();
    this.alarmAt = null;
    reportUsage("do_alarms_pending", -1);
    try {
      const now = Date.now();
      this.pages.prune(now, emptyUsage());
      // A block that has ended goes; one still in force keeps the object's storage.
      if (this.blocked && !this.activeBlock(now)) {
        this.ctx.storage.sql.exec("DROP TABLE IF EXISTS guard_block");
        this.blocked = null;
      }
      if (this.blocked?.until != null) await this.armAlarmAt(this.blocked.until);
      if (this.pages.isEmpty && !this.blocked) {
        // An empty SQLite database still holds ~12 KB of billed storage; deleteAll() leaves nothing.
        await this.ctx.storage.deleteAll();
        this.pages.reset();
      } else if (!this.pages.isEmpty) {
        await this.armAlarm();
      }
    } finally {
      done();
    }
  }

  // Sets the alarm for `at` unless one is set for earlier: a block's end (its row goes then).
  private async armAlarmAt(at: number): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    if (this.alarmAt === null) {
      reportUsage("do_alarms_set");
      reportUsage("do_alarms_pending", 1);
    }
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  // Sets the pruning alarm when none is set: a day after the first page can go (LEDGER_PRUNE_SLACK_MS).
  private async armAlarm(): Promise<void> {
    const first = this.pages.earliestKeepUntil();
    if (this.alarmAt !== null || first === undefined) return;
    const at = first + LEDGER_PRUNE_SLACK_MS;
    this.alarmAt = at;
    reportUsage("do_alarms_set");
    reportUsage("do_alarms_pending", 1);
    await this.ctx.storage.setAlarm(at);
  }
}

/** A set may be handed out again while younger than the window and than half its lifetime, and unrevoked. */
function isReusable(set: StoredSet, now: number, reuseSeconds: number): boolean {
  const age = now - set.at;
  return (
    set.ice !== undefined && set.u.length > 0 && age >= 0 && age < reuseSeconds * 1000 && age < (set.exp - set.at) / 2
  );
}

/** Revokes a set that could not be recorded, with an upstream allowance of its own. */
async function withdraw(call: VendCall, key: { keyId: string; secret: string }, usernames: string[]): Promise<void> {
  const own = new RtcApi(call.upstream.rtcBaseUrl, new UpstreamBudget(call.upstream.timeoutMs));
  const results = await Promise.allSettled(usernames.map((u) => own.revoke(key.keyId, key.secret, u)));
  log("vend.credential_withdrawn", {
    key_id: key.keyId,
    subject_hash: call.subjectHash,
    revoked: results.filter((r) => r.status === "fulfilled").length,
  });
}

/** The refusal of a vend for a user the bill's guard has blocked. */
function blockedFailure(block: UserBlock, now: number): Failure {
  return new Failure(
    "user_egress_blocked",
    block.reason === "budget"
      ? "this user's TURN egress is over its daily budget (EGRESS_BUDGET_USER_GB_PER_DAY); Retry-After says when its rolling 24 hours free up"
      : "this user's TURN egress is far above its normal and is blocked as a suspected leak until an operator clears it",
    { retryAfterSeconds: block.until === null ? LEAK_BLOCK_RETRY_AFTER_SECONDS : secondsUntil(block.until, now) },
  );
}

/** Whole seconds until `at`, at least 1: what Retry-After says. */
function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}

/**
 * The time whose leaving the window brings `times` (ascending) below `limit`: the oldest, unless the window
 * holds more than the limit (a lowered setting, isolates on two configurations during a deploy).
 */
function freedAt(times: number[], limit: number): number {
  return times[times.length - limit];
}

function dropBefore(times: number[], cutoff: number): void {
  let n = 0;
  while (n < times.length && times[n] <= cutoff) n++;
  if (n > 0) times.splice(0, n);
}

function insertSorted(times: number[], t: number): void {
  let i = times.length;
  while (i > 0 && times[i - 1] > t) i--;
  times.splice(i, 0, t);
}

function removeOne(times: number[], t: number): void {
  const i = times.indexOf(t);
  if (i >= 0) times.splice(i, 1);
}

/** The provider a stored set came from. */
function storedProvider(set: StoredSet): Provider {
  return set.p === "s" ? "self-hosted" : set.p === "b" ? "both" : "cloudflare";
}

/** What a mode answers when every provider works. */
function preferredProvider(mode: VendCall["providers"]["mode"]): Provider {
  return mode === "self-hosted" ? "self-hosted" : mode === "both" ? "both" : "cloudflare";
}

type MintedSet = Omit<VendedSet, "issuedAt">;

/**
 * Mints one set from the providers the vend's mode calls for: Cloudflare within the vend's deadline, then the
 * self-hosted provider when the mode merges it (both, self-hosted) or Cloudflare failed (failover, both). With
 * neither, a STUN-only answer when VEND_FAIL_OPEN=stun, else Cloudflare's failure.
 */
async function mintSet(
  call: VendCall,
  now: number,
): Promise<{ set: MintedSet; stunOnly: boolean; cloudflare: CloudflareCall }> {
  const { providers } = call;
  let cloudflare: CloudflareCall = "none";
  let fromCloudflare: { iceServers: VendedSet["iceServers"]; usernames: string[] } | undefined;
  let failure: Failure | undefined;
  if (providers.callCloudflare && call.key && providers.mode !== "self-hosted") {
    try {
      // The deadline bounds the attempts and the retries together, counted from the request's arrival at the
      // Worker: past it, the vend fails over. Work before this point (the token, the admission) came out of it;
      // a floor keeps a slow start from skipping Cloudflare outright.
      const { deadlineMs, deadlineAt, timeoutMs } = call.upstream;
      // The last VEND_FAILOVER_RESERVE_MS are the fallback's, when the mode has one.
      const reserve = call.providers.fallback || call.providers.failOpen ? VEND_FAILOVER_RESERVE_MS : 0;
      const allowanceMs = Math.max(VEND_DEADLINE_FLOOR_MS, Math.min(deadlineMs, deadlineAt - reserve - Date.now()));
      const rtc = new RtcApi(
        call.upstream.rtcBaseUrl,
        new UpstreamBudget(Math.min(timeoutMs, allowanceMs), undefined, allowanceMs),
      );
      // A merged set expires with its shorter half, and is recorded (so revocable) only until then: in `both`
      // mode Cloudflare's half is asked for the fallback's capped lifetime too, so it never outlives the record.
      const ttl =
        providers.mode === "both" && providers.fallback
          ? Math.min(call.ttl, providers.fallback.ttlMaxSeconds)
          : call.ttl;
      const upstream = await rtc.generateIceServers(call.key.keyId, call.key.secret, {
        ttl,
        customIdentifier: call.subjectHash,
      });
      const iceServers = selectIceUrls(shapeIceServers(upstream.iceServers), providers.iceUrls);
      if (iceServers.length === 0 && providers.fallback && providers.mode !== "cloudflare") {
        // An answer no browser can use is a failed call where there is somewhere else to go. Its credential
        // never leaves turnvend, so nobody holds it; it lapses with its ttl. (Without a fallback, the set is
        // recorded and answered 502 below.)
        log("vend.no_usable_urls", { key_id: call.key.keyId, failover: true });
        throw new Failure("upstream_error", "Cloudflare returned no ICE server a browser can use");
      }
      fromCloudflare = { iceServers, usernames: credentialUsernames(upstream.iceServers) };
      cloudflare = "ok";
    } catch (err) {
      if (!(err instanceof Failure)) throw err;
      failure = err;
      cloudflare = "failed";
      log("vend.cloudflare_failed", { subject_hash: call.subjectHash, kind: err.kind, mode: providers.mode });
    }
  }
  const merge = providers.mode === "both" || providers.mode === "self-hosted";
  const fallback =
    providers.fallback && (merge || (providers.mode === "failover" && !fromCloudflare))
      ? await mintSelfHosted(providers.fallback, call.subjectHash, call.ttl, now)
      : undefined;
  const degraded = providers.mode !== "self-hosted" && !fromCloudflare;
  if (!fromCloudflare && !fallback) {
    if (providers.failOpen) {
      log("vend.fail_open_stun", { subject_hash: call.subjectHash });
      const set: MintedSet = {
        iceServers: selectIceUrls(providers.failOpen, providers.iceUrls),
        usernames: [],
        selfHosted: [],
        // Whose STUN servers they are: the fallback's own when it lists any, else Cloudflare's public one.
        provider: providers.fallback?.urls.some((u) => /^stuns?:/i.test(u)) ? "self-hosted" : "cloudflare",
        degraded: true,
        expiresAt: now + call.ttl * 1000,
      };
      return { set, stunOnly: true, cloudflare };
    }
    throw (
      failure ??
      new Failure("no_active_key", "no TURN key is set to vend credentials and no fallback TURN server is configured")
    );
  }
  const selfHostedServers = fallback ? selectIceUrls(fallback.iceServers, providers.iceUrls) : [];
  const set: MintedSet = {
    iceServers: [...(fromCloudflare?.iceServers ?? []), ...selfHostedServers],
    usernames: [...(fromCloudflare?.usernames ?? []), ...(fallback ? [fallback.username] : [])],
    selfHosted: fallback ? [fallback.username] : [],
    provider: fromCloudflare && fallback ? "both" : fromCloudflare ? "cloudflare" : "self-hosted",
    degraded,
    // A merged set lives as long as its shorter half: the fallback's lifetime is capped.
    expiresAt: Math.min(now + call.ttl * 1000, fallback?.expiresAt ?? Number.POSITIVE_INFINITY),
  };
  return { set, stunOnly: false, cloudflare };
}
