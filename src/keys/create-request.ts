// The Worker's side of a create: the account object runs it (src/keys/create.ts, one at a time for the
// account), and this isolate then writes the new key into the KV cache, so a list that follows here shows it.
import type { CreateKeyReply, CreateKeyRequest } from "../storage/account-state-client";
import type { CachedKey } from "../storage/key-index";
import { log } from "../observability/log";
import type { KeyDeps } from "./deps";

export async function createKey(deps: KeyDeps, input: CreateKeyRequest): Promise<CreateKeyReply> {
  const reply = await deps.account.createKey(input);
  if (!reply.replayed) {
    const entry: CachedKey = { ...reply.key, created_by: input.callerId, has_secret: true, cached_at: deps.now() };
    // The cache is a copy: failing to update it loses nothing, and the next refresh repairs it.
    await deps.index.apply({ upsert: entry }).catch(() => log("key_index.write_failed", { key_id: reply.key.uid }));
  }
  return reply;
}
