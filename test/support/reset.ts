// A clean world for each test: an empty emulator, an empty KV namespace, a fresh account object and no
// isolate memory.
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { forgetIndexMemory } from "../../src/storage/key-index";
import { forgetRecentActiveKey } from "../../src/storage/active-key";
import { forgetOpenedSecrets } from "../../src/storage/key-secrets";
import { forgetV4Memory } from "../../src/upstream/v4-budget";
import { forgetAllSets } from "../../src/vend/reuse";
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
  forgetAllSets();
}

/** Empties the account object's tables and starts a new instance of it (no queue, no running creates). */
export async function resetAccountObject(): Promise<void> {
  const stub = accountObject();
  await runInDurableObject(stub, (_instance, state) => {
    for (const table of ["creates", "control"]) state.storage.sql.exec(`DELETE FROM ${table}`);
  });
  await evictDurableObject(stub);
}
