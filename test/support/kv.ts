// Raw access to the Worker's KV namespace, as an operator with `wrangler kv` would see it.
import { env } from "cloudflare:test";
import { forgetIndexMemory, type KeyIndexDoc } from "../../src/storage/key-index";

export const INDEX_KEY = "keys:v1:index";
export const secretKey = (keyId: string) => `secret:v1:${keyId}`;

export interface KvEntry {
  name: string;
  value: string | null;
  metadata: unknown;
  expiration?: number;
}

/** Every key in TURNVEND_KV with its value and metadata. */
export async function dumpKv(): Promise<KvEntry[]> {
  const out: KvEntry[] = [];
  let cursor: string | undefined;
  do {
    const page: KVNamespaceListResult<unknown> = await env.TURNVEND_KV.list({ cursor });
    for (const k of page.keys) {
      const { value, metadata } = await env.TURNVEND_KV.getWithMetadata(k.name);
      out.push({ name: k.name, value, metadata: metadata ?? k.metadata ?? null, expiration: k.expiration });
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return out;
}

export async function readIndex(): Promise<KeyIndexDoc | null> {
  return env.TURNVEND_KV.get<KeyIndexDoc>(INDEX_KEY, "json");
}

export async function writeIndex(doc: KeyIndexDoc): Promise<void> {
  await env.TURNVEND_KV.put(INDEX_KEY, JSON.stringify(doc));
  forgetIndexMemory(); // as an isolate would after INDEX_MEMORY_MS
}

/** A KV namespace that counts the calls made through it, to prove what a code path costs. */
export function countingKv(kv: KVNamespace) {
  const counts = { get: 0, list: 0, put: 0, delete: 0 };
  const wrapped = new Proxy(kv, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "get" || prop === "getWithMetadata") counts.get++;
        else if (prop === "list") counts.list++;
        else if (prop === "put") counts.put++;
        else if (prop === "delete") counts.delete++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kv: wrapped, counts };
}
