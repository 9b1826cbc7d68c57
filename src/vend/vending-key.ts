// Which TURN key vends, and its secret from custody. TURN_KEY_ID wins; otherwise the active key.
// Vending is the hot path, so each isolate remembers the choice and the opened secret for a short,
// bounded time; this isolate's own changes (a new active key, a deleted or re-adopted key, a key
// Cloudflare refused) forget it at once.
import { VENDING_KEY_MEMORY_MS } from "../constants";
import { ApiError } from "../http/errors";
import { log } from "../observability/log";
import type { VendDeps } from "./deps";

export interface VendingKey {
  keyId: string;
  secret: string;
}

let memory: (VendingKey & { at: number; pinned: string | undefined }) | undefined;

/** Forgets this isolate's remembered vending key, so the next vend reads KV again. */
export function forgetVendingKey(): void {
  memory = undefined;
}

/** The key credentials are minted with, or 503 telling the operator what to do. */
export async function vendingKey(deps: Pick<VendDeps, "pinnedKeyId" | "activeKeys" | "secrets">): Promise<VendingKey> {
  if (memory && memory.pinned === deps.pinnedKeyId && Date.now() - memory.at < VENDING_KEY_MEMORY_MS) {
    return { keyId: memory.keyId, secret: memory.secret };
  }
  const keyId = deps.pinnedKeyId ?? (await deps.activeKeys.get())?.key_id;
  if (!keyId) {
    throw new ApiError(
      "no_active_key",
      'no TURN key is set to vend credentials; an operator must PUT /v1/active-key { "key_id" } or set TURN_KEY_ID',
    );
  }
  const secret = await deps.secrets.load(keyId);
  if (secret === undefined) {
    log("vend.key_secret_missing", { key_id: keyId, pinned: deps.pinnedKeyId !== undefined });
    throw new ApiError(
      "no_active_key",
      "turnvend holds no secret for the TURN key set to vend credentials; an operator must adopt its secret or set another key",
    );
  }
  memory = { keyId, secret, at: Date.now(), pinned: deps.pinnedKeyId };
  return { keyId, secret };
}
