// A clean world for each test: an empty emulator, an empty KV namespace and no isolate memory. The
// Durable Objects keep their state; each test vends for subjects of its own (freshSubject).
import { env } from "cloudflare:test";
import { resetBreakerMemo } from "../../src/upstream/breaker";
import { forgetIndexMemory } from "../../src/storage/key-index";
import { forgetRecentActiveKey } from "../../src/storage/active-key";
import { forgetOpenedSecrets } from "../../src/storage/key-secrets";
import { forgetRefusalMemory } from "../../src/storage/audit-log";
import { emulator } from "./emulator";

export async function resetWorld(seedKeys?: number): Promise<void> {
  await emulator.reset(seedKeys);
  let cursor: string | undefined;
  do {
    const page: KVNamespaceListResult<unknown> = await env.TURNVEND_KV.list({ cursor });
    await Promise.all(page.keys.map((k) => env.TURNVEND_KV.delete(k.name)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  resetBreakerMemo();
  forgetIndexMemory();
  forgetRecentActiveKey();
  forgetOpenedSecrets();
  forgetRefusalMemory();
}
