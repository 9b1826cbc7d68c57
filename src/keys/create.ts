// Key creation, the one admin write that must survive retries and faults without losing anything:
// - an Idempotency-Key replays the first answer (one upstream create per key and body);
// - the one-time secret is sealed in custody before anyone hears of the key, or the key is deleted
//   again (compensation), so turnvend never leaves a key it cannot vend with;
// - a create whose answer was lost is looked up by its name tag before anything is tried again.
import { COMPENSATION_DELETE_ATTEMPTS, IDEMPOTENCY_IN_FLIGHT_SECONDS, SECRET_STORE_ATTEMPTS } from "../constants";
import type { TurnKey } from "../contract/responses";
import { Failure, isFailure } from "../errors";
import { retry } from "../retry";
import { log } from "../observability/log";
import type { CachedKey } from "../storage/key-index";
import { sha256Hex } from "../crypto/hex";
import type { IdempotencyRecord } from "../storage/idempotency";
import { outcomeUnknown } from "../upstream/request";
import { hasTag, tagName } from "./name-tag";
import type { CreateDeps, KeyDeps } from "./deps";
import { toPublic } from "./public-key";

export interface CreateInput {
  name: string | undefined;
  /** The caller's display id, for logs and `created_by`. */
  callerId: string;
  /** The authenticated caller (Caller.principal): Idempotency-Keys and name tags are its own. */
  principal: string;
  idempotencyKey?: string;
}

export interface CreateOutcome {
  status: number;
  key: TurnKey;
  /** The one-time secret, read back from custody on a replay. */
  secret: string;
  replayed: boolean;
}

export async function createKey(deps: CreateDeps, input: CreateInput): Promise<CreateOutcome> {
  const bodyHash = await sha256Hex(JSON.stringify({ name: input.name ?? null }));
  const idem = input.idempotencyKey;
  // A lost create is found again by this tag, so another caller's key must never carry it.
  const tag = (await sha256Hex(JSON.stringify([input.principal, idem ?? crypto.randomUUID()]))).slice(0, 12);

  if (idem) {
    const rec = await deps.idempotency.get(input.principal, idem);
    if (rec) {
      const replay = await resolveExisting(deps, input, idem, rec, bodyHash);
      if (replay) return replay;
    }
    await deps.idempotency.put(input.principal, idem, {
      v: 1,
      state: "in_flight",
      body_hash: bodyHash,
      started_at: deps.now(),
      tag,
    });
  }

  let created: Awaited<ReturnType<typeof deps.api.createKey>>;
  try {
    created = await deps.api.createKey(tagName(input.name, tag));
  } catch (err) {
    if (idem && outcomeUnknown(err)) {
      // Cloudflare may have made the key. Keep the record so the retry looks for the tag first.
      await deps.idempotency.put(input.principal, idem, {
        v: 1,
        state: "unknown",
        body_hash: bodyHash,
        started_at: deps.now(),
        tag,
      });
    } else {
      if (outcomeUnknown(err)) deps.waitUntil(removeTagged(deps, tag));
      if (idem) await deps.idempotency.delete(input.principal, idem);
    }
    throw err;
  }

  await takeCustody(deps, created.uid, created.key, input, idem);

  const key = toPublic(created);
  const entry: CachedKey = { ...key, created_by: input.callerId, has_secret: true, cached_at: deps.now() };
  // The cache is a copy: failing to update it loses nothing, and the next refresh repairs it.
  await deps.index.apply({ upsert: entry }).catch(() => log("key_index.write_failed", { key_id: key.uid }));
  if (idem) {
    await deps.idempotency.put(input.principal, idem, {
      v: 1,
      state: "done",
      body_hash: bodyHash,
      started_at: deps.now(),
      tag,
      result: { status: 201, key },
    });
  }
  log("turn_key.created", { key_id: key.uid, caller: input.callerId });
  return { status: 201, key, secret: created.key, replayed: false };
}

/** Handles a second request under a known Idempotency-Key: replay, refuse, or clear the way to retry. */
async function resolveExisting(
  deps: CreateDeps,
  input: CreateInput,
  idem: string,
  rec: IdempotencyRecord,
  bodyHash: string,
): Promise<CreateOutcome | undefined> {
  if (rec.body_hash !== bodyHash) {
    throw new Failure(
      "idempotency_mismatch",
      "this Idempotency-Key was used with a different body; use a new key for a new request",
    );
  }
  if (rec.state === "done" && rec.result) {
    const secret = await deps.secrets.load(rec.result.key.uid);
    if (secret === undefined)
      throw new Failure("key_not_found", "the key created under this Idempotency-Key no longer exists");
    return { status: rec.result.status, key: rec.result.key, secret, replayed: true };
  }
  const inFlightFor = (deps.now() - rec.started_at) / 1000;
  if (rec.state === "in_flight" && inFlightFor < IDEMPOTENCY_IN_FLIGHT_SECONDS) {
    throw new Failure("conflict", "a request with this Idempotency-Key is still in progress; retry shortly", {
      retryAfterSeconds: 1,
    });
  }
  // The earlier attempt's outcome is unknown. Find out before creating anything.
  const found = (await deps.api.listKeys()).filter((k) => hasTag(k.name ?? "", rec.tag));
  for (const key of found) {
    // A failing load is an outage, not a lost secret: let it surface instead of deleting the key.
    const secret = await deps.secrets.load(key.uid);
    if (secret !== undefined) {
      // The first attempt finished its work but not its bookkeeping: adopt its answer.
      const result = { status: 201, key: toPublic(key) };
      await deps.idempotency.put(input.principal, idem, { ...rec, state: "done", result });
      return { ...result, secret, replayed: true };
    }
    // Made upstream but its secret was lost with the answer: turnvend could never vend with it.
    await deps.api.deleteKey(key.uid);
    log("turn_key.orphan_deleted", { key_id: key.uid, caller: input.callerId });
  }
  return undefined;
}

/** Seals the new secret, or deletes the key upstream and answers 503 when that is impossible. */
async function takeCustody(
  deps: CreateDeps,
  keyId: string,
  secret: string,
  caller: Pick<CreateInput, "callerId" | "principal">,
  idem: string | undefined,
): Promise<void> {
  try {
    await retry(() => deps.secrets.store(keyId, secret, caller.callerId), {
      attempts: SECRET_STORE_ATTEMPTS,
      delayMs: (attempt) => 50 * attempt,
      onRetry: (attempt) => log("turn_key.custody_retry", { key_id: keyId, attempt }),
    });
    return;
  } catch {
    log("turn_key.custody_retry", { key_id: keyId, attempt: SECRET_STORE_ATTEMPTS });
  }
  log("turn_key.custody_failed", { key_id: keyId, caller: caller.callerId });
  const compensation = deleteUntilGone(deps, keyId);
  deps.waitUntil(compensation);
  // Answer after the first delete attempt when it is quick; waitUntil keeps retrying otherwise.
  await Promise.race([compensation, new Promise((r) => setTimeout(r, 2_000))]);
  if (idem) await deps.idempotency.delete(caller.principal, idem).catch(() => undefined);
  throw new Failure(
    "custody_failure",
    "turnvend could not store the new key's secret, so the key was deleted again; retry the request",
    {},
  );
}

async function deleteUntilGone(deps: KeyDeps, keyId: string): Promise<void> {
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

/** After a lost answer without an Idempotency-Key, removes whatever the create may have made. */
async function removeTagged(deps: KeyDeps, tag: string): Promise<void> {
  try {
    for (const key of await deps.api.listKeys()) {
      if (hasTag(key.name ?? "", tag)) await deps.api.deleteKey(key.uid);
    }
  } catch {
    log("turn_key.orphan_check_failed", {});
  }
}
