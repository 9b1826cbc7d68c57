// Upstream faults: retries where safe, never where not; the rate-limit breaker; stale-if-error.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { readIndex, writeIndex } from "./support/kv";
import { resetWorld } from "./support/reset";
import { forgetV4Memory } from "../src/upstream/v4-budget";

beforeEach(() => resetWorld());

async function seedCache(n = 2) {
  for (let i = 0; i < n; i++) await call(KEYS_PATH, { method: "POST", body: { name: `k${i}` } });
  const res = await call(KEYS_PATH, { headers: { "cache-control": "no-cache" } });
  expect(res.status).toBe(200);
}

const noCache = { headers: { "cache-control": "no-cache" } };

describe("retries", () => {
  it("retries an idempotent read after a 5xx and answers from the second attempt", async () => {
    await emulator.fault({ route: "turn_keys.list", status: 500 });
    const res = await call(KEYS_PATH, noCache);
    expect(res.status).toBe(200);
    expect((await emulator.calls())["turn_keys.list"]).toBe(2);
  });

  it("retries a read that times out, within a bounded number of attempts", async () => {
    await emulator.fault({ route: "turn_keys.list", hang: true, count: 10 });
    const started = Date.now();
    const res = await call(KEYS_PATH, noCache);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expect((await emulator.calls())["turn_keys.list"]).toBeLessThanOrEqual(3);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("never retries a create blindly: a 500 on create is one upstream call and a 502", async () => {
    await emulator.fault({ route: "turn_keys.create", status: 500 });
    const res = await call(KEYS_PATH, { method: "POST", body: { name: "x" } });
    expect(res.status).toBe(502);
    expect((await emulator.calls())["turn_keys.create"]).toBe(1);
  });

  it.each(["turn_keys.update", "turn_keys.delete"] as const)("never retries %s", async (route) => {
    const created = await envelope<{ uid: string }>(await call(KEYS_PATH, { method: "POST", body: {} }));
    await emulator.fault({ route, status: 503 });
    const res = await call(`${KEYS_PATH}/${created.result.uid}`, {
      method: route.endsWith("update") ? "PUT" : "DELETE",
      body: route.endsWith("update") ? { name: "n" } : undefined,
    });
    expect(res.status).toBe(502);
    expect((await emulator.calls())[route]).toBe(1);
  });

  it("answers a malformed upstream body with 502, not a crash", async () => {
    await emulator.fault({ route: "turn_keys.list", malformed: true, count: 3 });
    const res = await call(KEYS_PATH, noCache);
    expect(res.status).toBe(502);
    expect((await envelope(res)).errors[0].code).toBe(10031);
  });
});

describe("the rate-limit breaker", () => {
  it("opens on a 429, then sends no admin call upstream: reads are stale, writes get 503 with Retry-After", async () => {
    await seedCache();
    await emulator.fault({ route: "turn_keys.list", status: 429, retryAfter: 120 });
    const first = await call(KEYS_PATH, noCache);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-cache")).toBe("STALE");
    const before = (await emulator.calls()).total;

    const read = await call(KEYS_PATH, noCache);
    expect(read.status).toBe(200);
    expect(read.headers.get("x-cache")).toBe("STALE");
    expect(read.headers.get("age")).toMatch(/^\d+$/);

    const write = await call(KEYS_PATH, { method: "POST", body: { name: "blocked" } });
    expect(write.status).toBe(503);
    expect(Number(write.headers.get("retry-after"))).toBeGreaterThan(100);
    expect(Number(write.headers.get("retry-after"))).toBeLessThanOrEqual(120);
    expect((await emulator.calls()).total).toBe(before);
  });

  it("never retries into a 429", async () => {
    await emulator.fault({ route: "turn_keys.list", status: 429, retryAfter: 60 });
    const res = await call(KEYS_PATH, noCache);
    expect(res.status).toBe(503);
    expect((await emulator.calls())["turn_keys.list"]).toBe(1);
  });

  it("uses Cloudflare's 5-minute block when a 429 has no Retry-After", async () => {
    await emulator.fault({ route: "turn_keys.create", status: 429 });
    const res = await call(KEYS_PATH, { method: "POST", body: {} });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBe(300);
  });

  it("believes a Retry-After of at most an hour", async () => {
    await emulator.fault({ route: "turn_keys.create", status: 429, retryAfter: 10_000_000 });
    const res = await call(KEYS_PATH, { method: "POST", body: {} });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBe(3_600);
  });

  it("is shared through the account object, so a new isolate also holds calls", async () => {
    await emulator.fault({ route: "turn_keys.list", status: 429, retryAfter: 90 });
    await call(KEYS_PATH, noCache);
    forgetV4Memory();
    const res = await call(KEYS_PATH, { method: "POST", body: {} });
    expect(res.status).toBe(503);
    expect((await emulator.calls())["turn_keys.create"]).toBe(0);
  });
});

describe("stale-if-error", () => {
  it("serves list and get from KV, marked STALE with an Age, while upstream fails", async () => {
    await seedCache(1);
    const uid = (await readIndex())!.keys[0].uid;
    await emulator.fault({ route: "*", status: 500, count: 6 });
    const list = await call(KEYS_PATH, noCache);
    expect(list.status).toBe(200);
    expect(list.headers.get("x-cache")).toBe("STALE");
    expect(list.headers.get("age")).not.toBeNull();
    const get = await call(`${KEYS_PATH}/${uid}`, noCache);
    expect(get.status).toBe(200);
    expect(get.headers.get("x-cache")).toBe("STALE");
  });

  it("refuses with 503 once the cached copy is older than the maximum staleness", async () => {
    await seedCache(1);
    const doc = (await readIndex())!;
    const longAgo = Date.now() - 2 * 86_400_000; // CACHE_MAX_STALE_SECONDS is one day
    await writeIndex({ ...doc, synced_at: longAgo, keys: doc.keys.map((k) => ({ ...k, cached_at: longAgo })) });
    await emulator.fault({ route: "*", status: 500, count: 6 });
    const res = await call(KEYS_PATH);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    const get = await call(`${KEYS_PATH}/${doc.keys[0].uid}`);
    expect(get.status).toBe(503);
  });

  it("with nothing cached, an upstream outage is a 503 with Retry-After, never a hang", async () => {
    await emulator.fault({ route: "turn_keys.list", hang: true, count: 5 });
    const res = await call(KEYS_PATH);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await env.TURNVEND_KV.get("keys:v1:index")).toBeNull();
  });
});
