// One read-only caller cannot spend Cloudflare's v4 rate limit for everyone: reads that reach upstream
// (Cache-Control: no-cache, misses, unknown key ids) are bounded per caller, concurrent refreshes share
// one upstream call, and unknown ids are remembered briefly. The limiter here is KEYS_REFRESH_BOUNDED, a
// real local Rate Limiting binding with wrangler.toml's limit (vitest.config.ts), put in place of
// KEYS_REFRESH_LIMITER. Its counts outlive a test, so each test's keys carry a prefix of their own.
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { MESSAGE_CODES } from "../src/http/codes";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { CALLERS, type Role } from "./support/fixtures";
import { readIndex, writeIndex } from "./support/kv";
import { resetWorld } from "./support/reset";

const bounded = (env as unknown as { KEYS_REFRESH_BOUNDED: RateLimit }).KEYS_REFRESH_BOUNDED;
let limiter: RateLimit;

beforeEach(async () => {
  // The limiter counts in windows aligned to the wall clock's minute: a test that ran across the turn of a
  // minute would get a second allowance. Each test takes a few seconds, so it starts early in a minute.
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((r) => setTimeout(r, left + 100));
  await resetWorld();
  const test = crypto.randomUUID();
  limiter = { limit: ({ key }) => bounded.limit({ key: `${test}:${key}` }) };
}, 30_000);
/** wrangler.toml's KEYS_REFRESH_LIMITER limit, per caller per minute, as vitest.config.ts reads it. */
const LIMIT = Number((env as unknown as { KEYS_REFRESH_LIMIT: string }).KEYS_REFRESH_LIMIT);
const NO_CACHE = { "cache-control": "no-cache" };

/** A request through the Worker with the bounded limiter, as `role`. */
async function read(role: Role, path: string, headers: Record<string, string> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://turnvend.test${path}`, {
      headers: { authorization: `Bearer ${CALLERS[role].token}`, ...headers },
    }),
    { ...env, KEYS_REFRESH_LIMITER: limiter } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

async function inBatches<T>(count: number, width: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += width) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(width, count - i) }, (_, j) => one(i + j)))));
  }
  return out;
}

const randomKeyId = () =>
  [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");

describe("a keys:read caller's refreshes", () => {
  it(`are bounded: 200 no-cache lists, 4 at a time, reach Cloudflare at most ${LIMIT} times`, async () => {
    await emulator.createOutOfBand("k");
    expect((await read("reader", KEYS_PATH)).status).toBe(200);
    const answers = await inBatches(200, 4, async () => {
      const res = await read("reader", KEYS_PATH, NO_CACHE);
      return { status: res.status, cache: res.headers.get("x-cache"), body: await envelope<{ uid: string }[]>(res) };
    });
    expect(answers.every((a) => a.status === 200 && a.body.result.length === 1)).toBe(true);
    // The first list filled the cache; every later upstream list was a bypass the allowance granted.
    expect((await emulator.calls())["turn_keys.list"]).toBeLessThanOrEqual(1 + LIMIT);
    // Refused bypasses are the cached copy, marked as such in the envelope's messages.
    const refused = answers.filter((a) => a.body.messages.length > 0);
    // Each granted refresh serves the batch of 4 that shares it, at most.
    expect(refused.length).toBeGreaterThanOrEqual(200 - 4 * LIMIT);
    expect(answers.filter((a) => a.body.messages.length === 0).every((a) => a.cache === "BYPASS")).toBe(true);
    for (const a of refused) {
      expect(a.cache).toBe("HIT");
      expect(a.body.messages).toEqual([{ code: MESSAGE_CODES.refresh_refused, message: expect.any(String) }]);
    }
  });

  it("are counted per caller: another caller's refreshes still reach Cloudflare", async () => {
    await read("writer", KEYS_PATH);
    await inBatches(LIMIT + 5, 5, () => read("writer", KEYS_PATH, NO_CACHE));
    const before = (await emulator.calls())["turn_keys.list"];
    const res = await read("admin", KEYS_PATH, NO_CACHE);
    expect(res.headers.get("x-cache")).toBe("BYPASS");
    expect((await emulator.calls())["turn_keys.list"]).toBe(before + 1);
  });

  it("with nothing cached, get 429 with Retry-After once the allowance is spent, and no upstream call", async () => {
    const ids = Array.from({ length: LIMIT + 5 }, randomKeyId);
    const statuses = [];
    for (const id of ids) statuses.push((await read("reader", `${KEYS_PATH}/${id}`)).status);
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(404));
    expect(statuses.slice(LIMIT)).toEqual(Array(5).fill(429));
    expect((await emulator.calls())["turn_keys.get"]).toBe(LIMIT);
    const refused = await read("reader", `${KEYS_PATH}/${randomKeyId()}`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect((await envelope(refused)).errors[0]?.code).toBe(10029);
  });
});

describe("a refused refresh of an old copy", () => {
  it("answers the copy as STALE with its Age and message 10051, with no upstream call", async () => {
    await emulator.createOutOfBand("k");
    expect((await read("reader", KEYS_PATH)).status).toBe(200);
    const index = await readIndex();
    if (!index) throw new Error("the first list wrote no index");
    // Five minutes old: past CACHE_FRESH_SECONDS, well within CACHE_MAX_STALE_SECONDS.
    await writeIndex({
      ...index,
      synced_at: Date.now() - 300_000,
      keys: index.keys.map((k) => ({ ...k, cached_at: 0 })),
    });
    for (let i = 0; i < LIMIT; i++) await read("reader", KEYS_PATH, { pragma: "no-cache" });
    await writeIndex({
      ...index,
      synced_at: Date.now() - 300_000,
      keys: index.keys.map((k) => ({ ...k, cached_at: 0 })),
    });
    const before = (await emulator.calls()).total;
    const res = await read("reader", KEYS_PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cache")).toBe("STALE");
    expect(Number(res.headers.get("age"))).toBeGreaterThanOrEqual(299);
    expect((await envelope(res)).messages).toEqual([
      { code: MESSAGE_CODES.refresh_refused, message: expect.any(String) },
    ]);
    expect((await emulator.calls()).total).toBe(before);
  });
});

describe("unknown key ids", () => {
  it("are remembered: asking again for one costs no upstream call and spends no allowance", async () => {
    const id = randomKeyId();
    expect((await read("reader", `${KEYS_PATH}/${id}`)).status).toBe(404);
    for (let i = 0; i < LIMIT + 5; i++) expect((await read("reader", `${KEYS_PATH}/${id}`)).status).toBe(404);
    expect((await emulator.calls())["turn_keys.get"]).toBe(1);
  });

  it("are forgotten by reconciliation, which lists what exists", async () => {
    const key = await emulator.createOutOfBand("made-elsewhere");
    await emulator.fault({ route: "turn_keys.get", status: 404 });
    expect((await call(`${KEYS_PATH}/${key.uid}`)).status).toBe(404);
    expect((await call(`${KEYS_PATH}/${key.uid}`)).status).toBe(404);
    expect((await emulator.calls())["turn_keys.get"]).toBe(1);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "*/15 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await call(`${KEYS_PATH}/${key.uid}`)).status).toBe(200);
  });
});

describe("concurrent refreshes of the same thing", () => {
  it("share one upstream call", async () => {
    const key = await emulator.createOutOfBand("k");
    await emulator.fault({ route: "turn_keys.list", delayMs: 300 });
    await emulator.fault({ route: "turn_keys.get", delayMs: 300 });
    const lists = await Promise.all(Array.from({ length: 5 }, () => call(KEYS_PATH, { headers: NO_CACHE })));
    const gets = await Promise.all(
      Array.from({ length: 5 }, () => call(`${KEYS_PATH}/${key.uid}`, { headers: NO_CACHE })),
    );
    expect([...lists, ...gets].map((r) => r.status)).toEqual(Array(10).fill(200));
    const calls = await emulator.calls();
    expect(calls["turn_keys.list"]).toBe(1);
    expect(calls["turn_keys.get"]).toBe(1);
  });

  it("spend one refresh of the allowance, not one each", async () => {
    await emulator.createOutOfBand("k");
    await emulator.fault({ route: "turn_keys.list", delayMs: 300 });
    const joined = await Promise.all(Array.from({ length: 5 }, () => read("reader", KEYS_PATH, NO_CACHE)));
    expect(joined.map((r) => r.headers.get("x-cache"))).toEqual(Array(5).fill("BYPASS"));
    const after = [];
    for (let i = 0; i < LIMIT; i++) after.push((await read("reader", KEYS_PATH, NO_CACHE)).headers.get("x-cache"));
    // One refresh went to the shared call: LIMIT - 1 more bypasses reach Cloudflare, then the copy answers.
    expect(after).toEqual([...Array(LIMIT - 1).fill("BYPASS"), "HIT"]);
  });
});
