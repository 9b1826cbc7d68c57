// Choosing the key that vends: it must be one whose secret turnvend holds.
import type { ActiveKeyView } from "../contract/responses";
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { ActiveKey } from "../storage/active-key";
import type { VendDeps } from "./deps";

export async function readActiveKey(deps: Pick<VendDeps, "activeKeys" | "pinnedKeyId">): Promise<ActiveKeyView> {
  if (deps.pinnedKeyId) return { key_id: deps.pinnedKeyId, pinned: true, set_by: null, set_at: null };
  const doc = await deps.activeKeys.get();
  return { key_id: doc?.key_id ?? null, pinned: false, set_by: doc?.set_by ?? null, set_at: doc?.set_at ?? null };
}

export async function setActiveKey(
  deps: Pick<VendDeps, "activeKeys" | "pinnedKeyId" | "secrets" | "now">,
  keyId: string,
  callerId: string,
): Promise<ActiveKeyView> {
  if (deps.pinnedKeyId) {
    throw new Failure("conflict", "TURN_KEY_ID pins the vending key; unset it to choose the active key here");
  }
  // Loading (and so decrypting) the secret proves turnvend can actually vend with this key.
  if ((await deps.secrets.load(keyId)) === undefined) {
    throw new Failure(
      "conflict",
      "turnvend holds no secret for this key; create the key through turnvend or adopt its secret with PUT /v1/keys/{key_id}/secret",
    );
  }
  const doc: ActiveKey = { key_id: keyId, set_by: callerId, set_at: new Date(deps.now()).toISOString() };
  await deps.activeKeys.set(doc);
  log("active_key.set", { key_id: keyId, caller: callerId });
  return { key_id: doc.key_id, pinned: false, set_by: doc.set_by, set_at: doc.set_at };
}
