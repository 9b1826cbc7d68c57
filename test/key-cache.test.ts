// The KV metadata cache: list and get are served from KV while fresh, writes through turnvend keep it
// current, `Cache-Control: no-cache` goes upstream, and a stale cache asks upstream again.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { requireConfig } from "../src/config";
import { keyDeps } from "../src/keys/deps";
import { listKeys } from "../src/keys/reads";
import { forgetIndexMemory } from "../src/storage/key-index";
import { call, envelope, KEYS_PATH } from "./support/api";
import { resetWorld } from "./support/reset";
import { emulator } from "./support/emulator";
import { countingKv, readIndex, writeIndex } from "./support/kv";

interface Key {
  uid: string;
  name: string;
  created: string;
  modified: string;
}

beforeEach(async () => {
  await resetWorld();
});

async function list(headers?: Record<string, string>) {
  const res = await call(KEYS_PATH, { headers });
  expect(res.status).toBe(200);
  return { cache: res.headers.get("x-cache"), keys: (await envelope<Key[]>(res)).result };
}

async function get(id: string, headers?: Record<string, string>) {
  const res = await call(`${KEYS_PATH}/${id}`, { headers });
  return { status: res.status, cache: res.headers.get("x-cache"), key: (await envelope<Key>(res)).result };
}

async function create(name: string): Promise<Key> {
  const res = await call(KEYS_PATH, { method: "POST", body: { name } });
  expect(res.status).toBe(201);
  return (await envelope<Key>(res)).result;
}

const NO_CACHE = { "cache-control": "no-cache" };
const MINUTE_MS = 60_000;

describe("listing keys", () => {
  it("misses once with one upstream list, then hits KV with no upstream call", async () => {
    const oob = await emulator.createOutOfBand("elsewhere");
    const first = await list();
    expect(first.cache).toBe("MISS");
    expect(first.keys.map((k) => k.uid)).toEqual([oob.uid]);
    expect((await emulator.calls())["turn_keys.list"]).toBe(1);

    const second = await list();
    expect(second.cache).toBe("HIT");
    expect(second.keys).toEqual(first.keys);
    expect((await emulator.calls()).total).toBe(1);
  });

  it("goes upstream and refreshes KV when asked with Cache-Control: no-cache", async () => {
    await list();
    const bypass = await list(NO_CACHE);
    expect(bypass.cache).toBe("BYPASS");
    expect((await emulator.calls())["turn_keys.list"]).toBe(2);
    expect((await list()).cache).toBe("HIT");
    expect((await emulator.calls())["turn_keys.list"]).toBe(2);
  });

  it("tells clients not to store the answer, whatever the cache state", async () => {
    for (const headers of [undefined, undefined, NO_CACHE]) {
      const res = await call(KEYS_PATH, { headers });
      expect(res.headers.get("cache-control")).toMatch(/no-store/);
    }
  });

  it("asks upstream again once the freshness window has passed", async () => {
    const oob = await emulator.createOutOfBand("elsewhere");
    await list();
    const doc = (await readIndex())!;
    // Same content, but synced two minutes ago: past the 60 s window (CACHE_FRESH_SECONDS).
    await writeIndex({
      ...doc,
      synced_at: Date.now() - 2 * MINUTE_MS,
      keys: doc.keys.map((k) => ({ ...k, name: "stale name" })),
    });

    const again = await list();
    expect(again.cache).toBe("MISS");
    expect(again.keys.map((k) => [k.uid, k.name])).toEqual([[oob.uid, "elsewhere"]]);
    expect((await emulator.calls())["turn_keys.list"]).toBe(2);
    expect((await readIndex())!.synced_at).toBeGreaterThan(Date.now() - MINUTE_MS);
  });

  it("serves an index that is still inside the freshness window without asking upstream", async () => {
    await writeIndex({
      v: 1,
      synced_at: Date.now() - 30_000,
      keys: [
        {
          uid: "a".repeat(32),
          name: "from-kv",
          created: "2026-01-01T00:00:00Z",
          modified: "2026-01-01T00:00:00Z",
          created_by: null,
          has_secret: false,
          cached_at: 0,
        },
      ],
    });
    const res = await list();
    expect(res.cache).toBe("HIT");
    expect(res.keys).toEqual([
      { uid: "a".repeat(32), name: "from-kv", created: "2026-01-01T00:00:00Z", modified: "2026-01-01T00:00:00Z" },
    ]);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("lists 1,000 keys with exactly one upstream list, then from KV", async () => {
    await resetWorld(1000);
    const first = await list();
    expect(first.cache).toBe("MISS");
    expect(first.keys).toHaveLength(1000);
    expect(new Set(first.keys.map((k) => k.uid)).size).toBe(1000);
    expect((await emulator.calls()).total).toBe(1);

    const second = await list();
    expect(second.cache).toBe("HIT");
    expect(second.keys).toEqual(first.keys);
    expect((await emulator.calls()).total).toBe(1);
  });

  it("costs at most one KV read for a cached list of 1,000 keys, not one per key", async () => {
    await resetWorld(1000);
    const { kv, counts } = countingKv(env.TURNVEND_KV);
    const deps = keyDeps({ ...env, TURNVEND_KV: kv }, requireConfig(env));

    const miss = await listKeys(deps, { bypass: false, caller: "test" });
    expect(miss.cache).toBe("MISS");
    expect(miss.value).toHaveLength(1000);
    // A refresh: read the index, one KV list of stored secrets, one write of the whole index (plus at most
    // a read or two of upstream bookkeeping): a constant, whatever the number of keys.
    expect(counts.list).toBe(1);
    expect(counts.put).toBe(1);
    expect(counts.get).toBeLessThanOrEqual(3);

    Object.assign(counts, { get: 0, list: 0, put: 0, delete: 0 });
    const hit = await listKeys(deps, { bypass: false, caller: "test" });
    expect(hit.cache).toBe("HIT");
    expect(hit.value).toHaveLength(1000);
    // One read of the index document, or none when this isolate still holds it in memory.
    expect(counts.get).toBeLessThanOrEqual(1);
    expect(counts).toMatchObject({ list: 0, put: 0, delete: 0 });
  });
});

describe("getting a key", () => {
  it("is served from KV after a list, with no upstream get", async () => {
    const oob = await emulator.createOutOfBand("elsewhere");
    await list();
    const got = await get(oob.uid);
    expect(got.status).toBe(200);
    expect(got.cache).toBe("HIT");
    expect(got.key.name).toBe("elsewhere");
    const calls = await emulator.calls();
    expect(calls["turn_keys.get"]).toBe(0);
    expect(calls.total).toBe(1);
  });

  it("misses once for a key KV does not know, then hits", async () => {
    const oob = await emulator.createOutOfBand("elsewhere");
    const first = await get(oob.uid);
    expect(first.cache).toBe("MISS");
    expect(first.key.uid).toBe(oob.uid);
    expect((await emulator.calls())["turn_keys.get"]).toBe(1);
    const second = await get(oob.uid);
    expect(second.cache).toBe("HIT");
    expect((await emulator.calls()).total).toBe(1);
  });

  it("goes upstream with Cache-Control: no-cache even when KV has the key", async () => {
    const oob = await emulator.createOutOfBand("elsewhere");
    await list();
    const got = await get(oob.uid, NO_CACHE);
    expect(got.cache).toBe("BYPASS");
    expect((await emulator.calls())["turn_keys.get"]).toBe(1);
  });

  it("asks upstream again for an entry older than the freshness window", async () => {
    const oob = await emulator.createOutOfBand("elsewhere");
    await list();
    const doc = (await readIndex())!;
    const old = Date.now() - 2 * MINUTE_MS;
    await writeIndex({ ...doc, synced_at: old, keys: doc.keys.map((k) => ({ ...k, cached_at: old })) });
    const got = await get(oob.uid);
    expect(got.cache).toBe("MISS");
    expect((await emulator.calls())["turn_keys.get"]).toBe(1);
  });
});

describe("writes through turnvend", () => {
  it("update the cache, so the next list is a hit that already shows the change", async () => {
    await list();
    const key = await create("new");
    let after = await list();
    expect(after.cache).toBe("HIT");
    expect(after.keys.map((k) => [k.uid, k.name])).toEqual([[key.uid, "new"]]);
    expect((await get(key.uid)).cache).toBe("HIT");

    expect((await call(`${KEYS_PATH}/${key.uid}`, { method: "PUT", body: { name: "renamed" } })).status).toBe(200);
    after = await list();
    expect(after.cache).toBe("HIT");
    expect(after.keys.map((k) => k.name)).toEqual(["renamed"]);
    const got = await get(key.uid);
    expect([got.cache, got.key.name]).toEqual(["HIT", "renamed"]);

    expect((await call(`${KEYS_PATH}/${key.uid}`, { method: "DELETE" })).status).toBe(200);
    after = await list();
    expect(after.cache).toBe("HIT");
    expect(after.keys).toEqual([]);

    const calls = await emulator.calls();
    // The first list, and the one the create takes before it (its "before" set): no read asked Cloudflare.
    expect(calls["turn_keys.list"]).toBe(2);
    expect(calls["turn_keys.get"]).toBe(0);
  });

  it("leave the cache untouched when upstream refuses the write", async () => {
    const key = await create("before");
    await list(NO_CACHE);
    await emulator.fault({ route: "turn_keys.update", status: 500 });
    expect((await call(`${KEYS_PATH}/${key.uid}`, { method: "PUT", body: { name: "after" } })).status).toBe(502);
    const after = await list();
    expect(after.cache).toBe("HIT");
    expect(after.keys.map((k) => k.name)).toEqual(["before"]);
  });
});

describe("changes made outside turnvend", () => {
  it("a key created out of band appears after a no-cache refresh, and stays in the cache after", async () => {
    await list();
    const oob = await emulator.createOutOfBand("dashboard");
    expect((await list()).keys).toEqual([]);
    const refreshed = await list(NO_CACHE);
    expect(refreshed.cache).toBe("BYPASS");
    expect(refreshed.keys.map((k) => k.uid)).toEqual([oob.uid]);
    const cached = await list();
    expect(cached.cache).toBe("HIT");
    expect(cached.keys.map((k) => k.uid)).toEqual([oob.uid]);
  });

  it("a key deleted out of band disappears after a no-cache refresh", async () => {
    const key = await create("doomed");
    await list(NO_CACHE);
    // The emulator has no out-of-band delete; a reset empties the account the way a dashboard delete would.
    await emulator.reset();
    expect((await list()).keys.map((k) => k.uid)).toEqual([key.uid]);
    const refreshed = await list(NO_CACHE);
    expect(refreshed.cache).toBe("BYPASS");
    expect(refreshed.keys).toEqual([]);
    expect((await list()).keys).toEqual([]);
  });
});

describe("a key deleted out of band", () => {
  it("is dropped from the cache when a fresh get finds it gone", async () => {
    const created = await call(KEYS_PATH, { method: "POST", body: { name: "gone-soon" } });
    const uid = (await envelope<{ uid: string }>(created)).result.uid;
    await call(KEYS_PATH); // cached
    await emulator.reset(); // Cloudflare forgets it, as a dashboard delete would
    const get = await call(`${KEYS_PATH}/${uid}`, { headers: { "cache-control": "no-cache" } });
    expect(get.status).toBe(404);
    forgetIndexMemory();
    const list = await envelope<{ uid: string }[]>(await call(KEYS_PATH));
    expect(list.result.map((k) => k.uid)).not.toContain(uid);
  });
});
