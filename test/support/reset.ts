// A clean world for each test: an empty emulator, an empty KV namespace, a fresh account object and no
// isolate memory. The per-user Durable Objects keep their state; each test vends for subjects of its own
// (freshSubject).
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { forgetRefusalMemory } from "../../src/storage/audit-log";
import { forgetRecentActiveKey } from "../../src/storage/active-key";
import { forgetGuardMemory } from "../../src/storage/guard-memory";
import { forgetIndexMemory } from "../../src/storage/key-index";
import { forgetOpenedSecrets } from "../../src/storage/key-secrets";
import { forgetV4Memory } from "../../src/upstream/v4-budget";
import { credentialBreaker } from "../../src/vend/breaker";
import { accountObject } from "./account";
import { emulator } from "./emulator";

export async function resetWorld(seedKeys?: number): Promise<void> {
  await emulator.reset(seedKeys);
  let cursor: string | undefined;
  do {
    const page: KVNamespaceListResult<unknown> = await env.TURNVEND_KV.list({ cursor });
    await Promise.all(page.keys.map((k) => env.TURNVEND_KV.delete(k.name)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  await resetAccountObject();
  forgetV4Memory();
  forgetIndexMemory();
  forgetRecentActiveKey();
  forgetOpenedSecrets();
  forgetRefusalMemory();
  forgetGuardMemory();
  credentialBreaker.reset();
  credentialBreaker.clock = Date.now;
}

/** Empties the account object's tables and starts a new instance of it (no queue, no running creates). */
export async function resetAccountObject(): Promise<void> {
  const stub = accountObject();
  await runInDurableObject(stub, (_instance, state) => {
    for (const table of [
      "creates",
      "control",
      "usage_hours",
      "usage_user_hours",
      "usage_users",
      "guard_blocks",
      "guard_cleared",
      "guard_pending",
      "alert_outbox",
    ])
      state.storage.sql.exec(`DELETE FROM ${table}`);
  });
  await evictDurableObject(stub);
}
