// Which TURN key vends, and its secret from custody. TURN_KEY_ID wins; otherwise the active key. Vending
// is the hot path, so both come from the stores' short-lived isolate copies (src/storage/active-key.ts,
// src/storage/key-secrets.ts), which each store forgets when it changes them.
import { Failure } from "../errors";
import { log } from "../observability/log";
import type { VendDeps } from "./deps";

export interface VendingKey {
  keyId: string;
  secret: string;
}

/** The key credentials are minted with, or 503 telling the operator what to do. */
export async function vendingKey(
  deps: Pick<VendDeps, "pinnedKeyId" | "activeKeys" | "secrets" | "waitUntil">,
): Promise<VendingKey> {
  const keyId = deps.pinnedKeyId ?? (await deps.activeKeys.getRecent(deps.waitUntil))?.key_id;
  if (!keyId) {
    throw new Failure(
      "no_active_key",
      'no TURN key is set to vend credentials; an operator must PUT /v1/active-key { "key_id" } or set TURN_KEY_ID',
    );
  }
  const secret = await deps.secrets.loadRecent(keyId);
  if (secret === undefined) {
    log("vend.key_secret_missing", { key_id: keyId, pinned: deps.pinnedKeyId !== undefined });
    throw new Failure(
      "no_active_key",
      "turnvend holds no secret for the TURN key set to vend credentials; an operator must adopt its secret or set another key",
    );
  }
  return { keyId, secret };
}

/** Cloudflare refused this key: forget what this isolate remembers of it, so the next vend reads KV. */
export function forgetRefusedKey(deps: Pick<VendDeps, "activeKeys" | "secrets">, keyId: string): void {
  deps.secrets.forgetRecent(keyId);
  deps.activeKeys.forgetRecent();
}
