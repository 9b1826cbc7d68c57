// Changing keys: upstream first, then the KV cache and custody. Plain values in, plain values out.
import { ADOPTION_ATTEMPT_BUDGET } from "../constants";
import type { TurnKey } from "../contract/responses";
import { secretsEqual } from "../crypto/secret-equal";
import { isFailure } from "../errors";
import { log } from "../observability/log";
import type { CachedKey } from "../storage/key-index";
import { UpstreamBudget } from "../upstream/budget";
import type { KeyDeps } from "./deps";
import { toPublic } from "./public-key";
import { mergeOne } from "./reads";
import { verifyKeySecret } from "./verify-secret";

export async function updateKey(
  deps: KeyDeps,
  keyId: string,
  input: { name: string | undefined; callerId: string },
): Promise<TurnKey> {
  const record = await deps.api.updateKey(keyId, input.name);
  const entry = mergeOne(deps, record, await deps.index.read());
  await deps.index.apply({ upsert: entry });
  log("turn_key.updated", { key_id: keyId, caller: input.callerId });
  return toPublic(entry);
}

/** Deletes upstream, then forgets the metadata and destroys the stored secret. */
export async function deleteKey(deps: KeyDeps, keyId: string, input: { callerId: string }): Promise<TurnKey> {
  const record = await deps.api.deleteKey(keyId);
  await Promise.all([deps.index.apply({ remove: keyId }), deps.secrets.delete(keyId)]);
  log("turn_key.deleted", { key_id: keyId, caller: input.callerId });
  return toPublic(record);
}

/** What custody held for a key before an adoption: nothing, the same secret, another one, or a damaged record. */
type HeldBefore = "none" | "same" | "different" | "unreadable";

/**
 * Takes custody of the secret of a key made elsewhere (dashboard, Terraform), or replaces the held one, but
 * only with a secret Cloudflare takes for this key (verify-secret.ts); a refused one leaves custody as it
 * was. A key has one secret, so a held secret that differs from a verified one was wrong: replacing it is
 * how an operator recovers from a wrong adoption. The key must exist upstream.
 */
export async function adoptKeySecret(
  deps: KeyDeps,
  keyId: string,
  input: { secret: string; callerId: string },
): Promise<{ key: TurnKey; replaced: boolean }> {
  // An allowance of its own, smaller than a request's: the get, one probe and its revocation, two retries.
  const budget = new UpstreamBudget(deps.upstreamTimeoutMs, ADOPTION_ATTEMPT_BUDGET);
  const record = await deps.api.withBudget(budget).getKey(keyId, "write");
  await verifyKeySecret(deps.rtc.withBudget(budget), keyId, input.secret);
  const heldBefore = await compareHeld(deps, keyId, input.secret);
  await deps.secrets.store(keyId, input.secret, input.callerId);
  const entry: CachedKey = {
    ...toPublic(record),
    created_by: input.callerId,
    has_secret: true,
    cached_at: deps.now(),
  };
  await deps.index.apply({ upsert: entry });
  const replaced = heldBefore === "different" || heldBefore === "unreadable";
  log(replaced ? "turn_key.secret_replaced" : "turn_key.adopted", {
    key_id: keyId,
    caller: input.callerId,
    previous: heldBefore,
  });
  return { key: toPublic(entry), replaced };
}

async function compareHeld(deps: KeyDeps, keyId: string, secret: string): Promise<HeldBefore> {
  let held: string | undefined;
  try {
    held = await deps.secrets.load(keyId);
  } catch (err) {
    if (isFailure(err, "custody_failure")) return "unreadable";
    throw err;
  }
  if (held === undefined) return "none";
  return (await secretsEqual(held, secret)) ? "same" : "different";
}
