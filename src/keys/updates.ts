// Changing keys: upstream first, then the KV cache and custody. Plain values in, plain values out.
import type { TurnKey } from "../contract/responses";
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { CachedKey } from "../storage/key-index";
import type { KeyDeps } from "./deps";
import { toPublic } from "./public-key";
import { mergeOne } from "./reads";

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

/** Takes custody of the secret of a key made elsewhere (dashboard, Terraform). The key must exist upstream. */
export async function adoptKeySecret(
  deps: KeyDeps,
  keyId: string,
  input: { secret: string; callerId: string },
): Promise<TurnKey> {
  // A held secret may be the one-time secret Cloudflare will never show again: never overwrite it. A
  // damaged record (custody_failure) may be replaced, which is how an operator repairs it.
  const held = await deps.secrets.load(keyId).catch((err: unknown) => {
    if (err instanceof Failure && err.kind === "custody_failure") return undefined;
    throw err;
  });
  if (held !== undefined) {
    throw new Failure(
      "conflict",
      "turnvend already holds a secret for this key; delete the key or create a new one instead",
    );
  }
  // Part of a write: it may spend the budget's write reserve.
  const record = await deps.api.getKey(keyId, "write");
  await deps.secrets.store(keyId, input.secret, input.callerId);
  const entry: CachedKey = {
    ...toPublic(record),
    created_by: input.callerId,
    has_secret: true,
    cached_at: deps.now(),
  };
  await deps.index.apply({ upsert: entry });
  log("turn_key.adopted", { key_id: keyId, caller: input.callerId });
  return toPublic(entry);
}
