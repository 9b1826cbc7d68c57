// Key creation, the one admin write that must survive retries and faults without losing anything. It runs
// inside the account object (src/objects/account-state.ts), one create at a time for the whole account:
// - an Idempotency-Key is exact: admission decides and records in one synchronous step, so of any number of
//   concurrent duplicates one creates and the others get the replay or a 409;
// - the name reaches Cloudflare exactly as sent. A create whose answer was lost is found again from the key
//   list taken just before it: the new uid with the sent name is its key (see settleOne);
// - the one-time secret is sealed in custody before anyone hears of the key, or the key is deleted again
//   (compensation), so turnvend never leaves a key it cannot vend with.
import {
  COMPENSATION_DELETE_ATTEMPTS,
  CREATE_MATCH_WINDOW_MS,
  IDEMPOTENCY_IN_FLIGHT_SECONDS,
  IDEMPOTENCY_TTL_SECONDS,
  SECRET_STORE_ATTEMPTS,
} from "../constants";
import type { TurnKey } from "../contract/responses";
import { sha256Hex } from "../crypto/hex";
import { Failure, isFailure } from "../errors";
import { log } from "../observability/log";
import { retry } from "../retry";
import type { CreateKeyReply, CreateKeyRequest } from "../storage/account-state-client";
import { hasLegacyTag, type LegacyIdempotencyRecord, type LegacyIdempotencyRecords } from "../storage/idempotency";
import type { KeySecrets } from "../storage/key-secrets";
import type { CloudflareApi } from "../upstream/cloudflare-api";
import { outcomeUnknown } from "../upstream/request";
import type { UpstreamKey } from "../upstream/schemas";
import { toPublic } from "./public-key";

export type CreateState = "in_flight" | "unknown" | "done";

/** One create as the account object records it (schema: docs/storage-schema.md, "The account object"). */
export interface CreateRecord {
  /** SHA-256 (hex) of the JSON array [principal, Idempotency-Key]; `anon:<uuid>` for a create without one. */
  id: string;
  /** SHA-256 (hex) of the body `{ name }`: a different body under the same key is refused. */
  bodyHash: string;
  /** in_flight: admitted, queued or running; unknown: its outcome is not known yet; done: `result` holds it. */
  state: CreateState;
  /** The name sent upstream, exactly; null when the caller sent none. */
  name: string | null;
  /** Uids Cloudflare listed just before the upstream create; null until then. */
  beforeUids: string[] | null;
  /** When the upstream create was sent (until then: when the record was written), ms since the epoch. */
  startedAt: number;
  /** When an Idempotency-Key stops being remembered, ms since the epoch. */
  expiresAt: number;
  /** The replayable answer; never the secret, which stays sealed in custody. */
  result: { status: number; key: TurnKey } | null;
  /** Only records read from an earlier version's KV: the marker its create put in the key's name. */
  legacyTag: string | null;
}

/** The account object's table of creates. Synchronous (SQLite in the object), which is what makes admission exact. */
export interface CreateRecords {
  get(id: string): CreateRecord | undefined;
  put(rec: CreateRecord): void;
  delete(id: string): void;
  /** Every record not done: admitted, running, or left with an unknown outcome. */
  unfinished(): CreateRecord[];
}

export interface CreateDeps {
  api: CloudflareApi;
  secrets: KeySecrets;
  records: CreateRecords;
  /** Earlier versions' KV records; undefined once none of them can still be within its 24 hours. */
  legacy: LegacyIdempotencyRecords | undefined;
  now: () => number;
  /** Keeps work going after the answer (the compensation delete). */
  waitUntil: (work: Promise<unknown>) => void;
}

/** A create with its ids worked out, and an earlier version's record for it if there is one. */
export interface PreparedCreate {
  id: string;
  bodyHash: string;
  legacy?: LegacyIdempotencyRecord;
}

export type Admission = { kind: "replay"; record: CreateRecord } | { kind: "run"; id: string };

/** Everything asynchronous before admission (hashes, the old KV record), so admission itself never awaits. */
export async function prepareCreate(deps: CreateDeps, input: CreateKeyRequest): Promise<PreparedCreate> {
  const bodyHash = await sha256Hex(JSON.stringify({ name: input.name ?? null }));
  if (input.idempotencyKey === undefined) return { id: `anon:${crypto.randomUUID()}`, bodyHash };
  // The JSON array cannot be read two ways (a common_name may hold ":"), and is the id earlier versions used.
  const id = await sha256Hex(JSON.stringify([input.principal, input.idempotencyKey]));
  const legacy = deps.legacy && !deps.records.get(id) ? await deps.legacy.get(id) : undefined;
  return { id, bodyHash, legacy };
}

/**
 * Decides what happens to a create and records it, without awaiting anything: the check and the write happen
 * in one turn of the object, so no second request with the same key can slip between them. `running` holds
 * the ids whose create this object is running or has queued; the caller adds the admitted id to it.
 */
export function admitCreate(
  deps: Pick<CreateDeps, "records" | "now">,
  input: Pick<CreateKeyRequest, "name">,
  prepared: PreparedCreate,
  running: ReadonlySet<string>,
): Admission {
  const now = deps.now();
  let rec = deps.records.get(prepared.id);
  if (rec && rec.expiresAt <= now) {
    deps.records.delete(rec.id);
    rec = undefined;
  }
  let fromKv = false;
  if (!rec && prepared.legacy) {
    rec = fromLegacy(prepared, prepared.legacy, now);
    fromKv = true;
  }
  if (rec) {
    if (rec.bodyHash !== prepared.bodyHash) {
      throw new Failure(
        "idempotency_mismatch",
        "this Idempotency-Key was used with a different body; use a new key for a new request",
      );
    }
    if (rec.state === "done" && rec.result) {
      // Moved over once: later replays read the object alone.
      if (fromKv) deps.records.put(rec);
      return { kind: "replay", record: rec };
    }
  }
  // Checked apart from the record: an earlier create's list may have settled (and removed) the record of one
  // still waiting in the queue.
  if (running.has(prepared.id)) throw stillRunning();
  if (rec) {
    // Nobody runs it: its answer was lost, or the object restarted during it. It stays "unknown" until the
    // list at the start of the next create (this one's, or an earlier one's in the queue) settles it.
    if (rec.state !== "unknown" || fromKv) deps.records.put({ ...rec, state: "unknown" });
    return { kind: "run", id: rec.id };
  }
  deps.records.put({
    id: prepared.id,
    bodyHash: prepared.bodyHash,
    state: "in_flight",
    name: input.name ?? null,
    beforeUids: null,
    startedAt: now,
    expiresAt: now + IDEMPOTENCY_TTL_SECONDS * 1000,
    result: null,
    legacyTag: null,
  });
  return { kind: "run", id: prepared.id };
}

/** The stored answer of an earlier create, with the secret read back from custody. */
export async function replayCreate(
  deps: Pick<CreateDeps, "secrets">,
  record: CreateRecord,
  reveal: boolean,
): Promise<CreateKeyReply> {
  const result = record.result as { status: number; key: TurnKey };
  const secret = await deps.secrets.load(result.key.uid);
  if (secret === undefined) {
    throw new Failure("key_not_found", "the key created under this Idempotency-Key no longer exists");
  }
  return { status: result.status, key: result.key, secret: reveal ? secret : undefined, replayed: true };
}

/**
 * The create itself, run when its turn in the object's queue comes. One list first: it is this create's
 * "before" set, and it settles every create whose outcome is unknown, this one's earlier attempt included. So
 * no turnvend create ever runs while another's outcome is unsettled, and none can be taken for another's key.
 */
export async function runCreate(
  deps: CreateDeps,
  id: string,
  bodyHash: string,
  input: CreateKeyRequest,
  running: ReadonlySet<string>,
): Promise<CreateKeyReply> {
  let before: UpstreamKey[];
  let expiresAt: number;
  try {
    before = await settleUnfinished(deps, await deps.api.listKeys("write"), running);
    const mine = deps.records.get(id);
    // Its earlier attempt made the key and sealed its secret, but the answer was lost: that is the answer.
    if (mine?.state === "done" && mine.result) return await replayCreate(deps, mine, input.reveal);
    expiresAt = mine?.expiresAt ?? deps.now() + IDEMPOTENCY_TTL_SECONDS * 1000;
  } catch (err) {
    releaseCreate(deps, id);
    throw err;
  }

  const attempt: CreateRecord = {
    id,
    bodyHash,
    state: "in_flight",
    name: input.name ?? null,
    beforeUids: before.map((k) => k.uid),
    startedAt: deps.now(),
    expiresAt,
    result: null,
    legacyTag: null,
  };
  deps.records.put(attempt);
  let created: Awaited<ReturnType<CloudflareApi["createKey"]>>;
  try {
    created = await deps.api.createKey(input.name);
  } catch (err) {
    if (mayHaveCreated(err)) await settleLost(deps, { ...attempt, state: "unknown" });
    else deps.records.delete(id);
    throw err;
  }

  await takeCustody(deps, created.uid, created.key, input.callerId, id);
  const key = toPublic(created);
  finish(deps, { ...attempt, state: "done", result: { status: 201, key } });
  log("turn_key.created", { key_id: key.uid, caller: input.callerId });
  return { status: 201, key, secret: input.reveal ? created.key : undefined, replayed: false };
}

/**
 * Keeps a done record for replays, without its "before" list (up to 1,000 uids it no longer needs); a create
 * without an Idempotency-Key has nobody to replay to.
 */
function finish(deps: CreateDeps, record: CreateRecord): void {
  if (record.id.startsWith("anon:")) deps.records.delete(record.id);
  else deps.records.put({ ...record, beforeUids: null });
}

/**
 * A create that ends before its upstream call (failed, or never got its turn): an earlier attempt's unknown
 * outcome stays to be settled, else nothing remains of it.
 */
export function releaseCreate(deps: Pick<CreateDeps, "records">, id: string): void {
  if (deps.records.get(id)?.state === "in_flight") deps.records.delete(id);
}

/** The create call failed in a way that does not prove Cloudflare made nothing. */
function mayHaveCreated(err: unknown): boolean {
  if (outcomeUnknown(err)) return true;
  // A 5xx or an answer turnvend could not read; a refused token (credentials_refused) made nothing.
  return isFailure(err, "upstream_error") && err.detail !== "credentials_refused";
}

/**
 * Right after a create whose outcome is unknown: one more list says what happened. Its key, found, is deleted
 * (nobody received its secret, so nobody can ever use it) and the record is forgotten, so a retry creates
 * afresh. When even the list fails, the record stays unknown and the next create, or the retry, settles it.
 */
async function settleLost(deps: CreateDeps, record: CreateRecord): Promise<void> {
  deps.records.put(record);
  try {
    const outcome = await settleOne(deps, record, await deps.api.listKeys("write"));
    if (outcome.adopted) finish(deps, { ...record, state: "done", result: { status: 201, key: outcome.adopted } });
    else deps.records.delete(record.id);
  } catch {
    log("turn_key.create_unsettled", {});
  }
}

/**
 * Settles every create whose outcome is unknown, and every one left in flight by an earlier instance of the
 * object (not in `running`); creates admitted here and not started yet have nothing to settle. Returns the
 * list without the keys it deleted.
 */
async function settleUnfinished(
  deps: CreateDeps,
  listed: UpstreamKey[],
  running: ReadonlySet<string>,
): Promise<UpstreamKey[]> {
  let keys = listed;
  for (const rec of deps.records.unfinished()) {
    if (rec.state === "in_flight" && running.has(rec.id)) continue;
    const outcome = await settleOne(deps, rec, keys);
    keys = keys.filter((k) => !outcome.deleted.includes(k.uid));
    if (outcome.adopted) finish(deps, { ...rec, state: "done", result: { status: 201, key: outcome.adopted } });
    else deps.records.delete(rec.id);
  }
  return keys;
}

/**
 * What one create with an unknown outcome left behind, from a fresh list. Its key is a uid that was not in its
 * "before" list, carries exactly the name it sent, and was created near its attempt. Only when exactly one key
 * fits is it certain: a key whose secret is held is adopted (the attempt finished but its answer was lost),
 * one without is deleted (its secret went with the answer). Several that fit (someone outside turnvend made
 * a key of the same name at the same moment) are left alone and logged; reconciliation reports them.
 */
async function settleOne(
  deps: CreateDeps,
  rec: CreateRecord,
  listed: UpstreamKey[],
): Promise<{ adopted?: TurnKey; deleted: string[] }> {
  let candidates: UpstreamKey[];
  if (rec.legacyTag !== null) {
    // An earlier version's create: its tag names the principal and key, so every tagged key is its own.
    const tag = rec.legacyTag;
    candidates = listed.filter((k) => hasLegacyTag(k.name ?? "", tag));
  } else if (rec.beforeUids !== null) {
    const before = new Set(rec.beforeUids);
    candidates = listed.filter(
      (k) =>
        !before.has(k.uid) &&
        (k.name ?? "") === (rec.name ?? "") &&
        Math.abs(Date.parse(k.created) - rec.startedAt) <= CREATE_MATCH_WINDOW_MS,
    );
    if (candidates.length > 1) {
      log("turn_key.create_ambiguous", { candidates: candidates.map((k) => k.uid).join(",") });
      return { deleted: [] };
    }
  } else {
    // It never reached the upstream create.
    return { deleted: [] };
  }
  const deleted: string[] = [];
  for (const key of candidates) {
    // A failing load is an outage, not a lost secret: it surfaces instead of deleting the key.
    if ((await deps.secrets.load(key.uid)) !== undefined) return { adopted: toPublic(key), deleted };
    await deps.api.deleteKey(key.uid);
    deleted.push(key.uid);
    log("turn_key.orphan_deleted", { key_id: key.uid });
  }
  return { deleted };
}

/** Seals the new secret, or deletes the key upstream and answers 503 when that is impossible. */
async function takeCustody(
  deps: CreateDeps,
  keyId: string,
  secret: string,
  callerId: string,
  recordId: string,
): Promise<void> {
  try {
    await retry(() => deps.secrets.store(keyId, secret, callerId), {
      attempts: SECRET_STORE_ATTEMPTS,
      delayMs: (attempt) => 50 * attempt,
      onRetry: (attempt) => log("turn_key.custody_retry", { key_id: keyId, attempt }),
    });
    return;
  } catch {
    log("turn_key.custody_retry", { key_id: keyId, attempt: SECRET_STORE_ATTEMPTS });
  }
  log("turn_key.custody_failed", { key_id: keyId, caller: callerId });
  const compensation = deleteUntilGone(deps, keyId);
  deps.waitUntil(compensation);
  // Answer after the first delete attempt when it is quick; waitUntil keeps retrying otherwise.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([compensation, new Promise((r) => (timer = setTimeout(r, 2_000)))]);
  if (timer !== undefined) clearTimeout(timer);
  deps.records.delete(recordId);
  throw new Failure(
    "custody_failure",
    "turnvend could not store the new key's secret, so the key was deleted again; retry the request",
    {},
  );
}

async function deleteUntilGone(deps: Pick<CreateDeps, "api">, keyId: string): Promise<void> {
  try {
    await retry(() => deps.api.deleteKey(keyId), {
      attempts: COMPENSATION_DELETE_ATTEMPTS,
      delayMs: (attempt) => 500 * attempt,
      isFinal: (err) => isFailure(err, "key_not_found"),
    });
    log("turn_key.compensated", { key_id: keyId });
  } catch (err) {
    if (isFailure(err, "key_not_found")) return;
    // Reconciliation will find the key without a secret and report it.
    log("turn_key.compensation_failed", { key_id: keyId });
  }
}

/** An earlier version's KV record as the account object keeps it, or the 409 for one still running. */
function fromLegacy(prepared: PreparedCreate, legacy: LegacyIdempotencyRecord, now: number): CreateRecord {
  if (legacy.state === "in_flight" && (now - legacy.started_at) / 1000 < IDEMPOTENCY_IN_FLIGHT_SECONDS) {
    // An isolate of the earlier version may still be running it: it will write its answer to KV.
    throw stillRunning();
  }
  const done = legacy.state === "done" && legacy.result !== undefined;
  return {
    id: prepared.id,
    bodyHash: legacy.body_hash,
    state: done ? "done" : "unknown",
    name: null,
    beforeUids: null,
    startedAt: legacy.started_at,
    expiresAt: legacy.started_at + IDEMPOTENCY_TTL_SECONDS * 1000,
    result: done ? (legacy.result ?? null) : null,
    legacyTag: done ? null : legacy.tag,
  };
}

function stillRunning(): Failure {
  return new Failure("conflict", "a request with this Idempotency-Key is still in progress; retry shortly", {
    retryAfterSeconds: 1,
  });
}
