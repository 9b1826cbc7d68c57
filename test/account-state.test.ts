// The account object: turnvend's own v4 budget, the active key moved over from KV, and a deliberate 503 when
// the object cannot be reached. These run against the real local Durable Object (Miniflare's SQLite-backed
// object, inside workerd).
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { KeySecrets } from "../src/storage/key-secrets";
import { forgetRecentActiveKey } from "../src/storage/active-key";
import { forgetV4Memory } from "../src/upstream/v4-budget";
import { accountRows, withAccountEnv } from "./support/account";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { CALLERS, KEY_ENCRYPTION_KEY } from "./support/fixtures";
import { resetWorld } from "./support/reset";
import {
  ACTIVE_KEY_PATH,
  activeVendingKey,
  expectError,
  fetchWith,
  freshSubject,
  userJwt,
  VEND_PATH,
} from "./support/vend";

beforeEach(() => resetWorld());
afterEach(() => {
  vi.restoreAllMocks();
});

const create = (idempotencyKey: string, name = "room") =>
  call(KEYS_PATH, { method: "POST", body: { name }, headers: { "idempotency-key": idempotencyKey } });

const noCache = { headers: { "cache-control": "no-cache" } };
const secrets = () => new KeySecrets(env.TURNVEND_KV, KEY_ENCRYPTION_KEY);

/** An ACCOUNT_STATE namespace whose every call fails, as an unreachable or crashing object does. */
function failingNamespace() {
  const real = env.ACCOUNT_STATE;
  return {
    idFromName: (name: string) => real.idFromName(name),
    get: () =>
      new Proxy(
        {},
        { get: () => () => Promise.reject(new Error("Durable Object reset because its code was updated.")) },
      ),
  };
}

/** The real namespace, counting the object requests (RPC calls) made through it, by method. */
function countingNamespace() {
  const real = env.ACCOUNT_STATE;
  const counts: Record<string, number> = {};
  const namespace = {
    idFromName: (name: string) => real.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = real.get(id) as unknown as Record<string, (...args: unknown[]) => unknown>;
      return new Proxy(
        {},
        {
          get:
            (_target, method: string) =>
            (...args: unknown[]) => {
              counts[method] = (counts[method] ?? 0) + 1;
              return stub[method](...args);
            },
        },
      );
    },
  };
  return { namespace, counts };
}

describe("turnvend's own budget of v4 calls", () => {
  // 40 per 5 minutes: a burst of 10, of which 4 only writes may spend.
  const SMALL = { V4_BUDGET_PER_5_MIN: "40", V4_WRITE_RESERVE: "4" };

  it("holds under a burst of cache bypasses: past it reads are served STALE, and writes keep their reserve", async () => {
    await withAccountEnv(SMALL, async () => {
      const answers: Response[] = [];
      for (let i = 0; i < 30; i++) answers.push(await call(KEYS_PATH, noCache));
      expect(answers.every((r) => r.status === 200)).toBe(true);
      // 6 reads fit (burst 10 less the reserve of 4); the bucket refills 30 tokens over 310 s, not within this test.
      expect((await emulator.calls())["turn_keys.list"]).toBeLessThanOrEqual(6);
      const stale = answers.filter((r) => r.headers.get("x-cache") === "STALE");
      expect(stale.length).toBeGreaterThanOrEqual(24);
      expect(stale[0].headers.get("age")).toMatch(/^\d+$/);

      const write = await create("after-the-burst");
      expect(write.status).toBe(201);
      forgetV4Memory();
      const health = await envelope<{ v4_budget: Record<string, number> }>(await call("/healthz", { as: "none" }));
      expect(health.result.v4_budget).toMatchObject({ per_5_min: 40, burst: 10, write_reserve: 4 });
      // The create spent from the write reserve.
      expect(health.result.v4_budget.remaining).toBeLessThan(4);
    });
  });

  it("answers a bypass with nothing cached 503 with Retry-After once the reads' share is spent", async () => {
    await withAccountEnv(SMALL, async () => {
      for (let i = 0; i < 6; i++) expect((await call(`${KEYS_PATH}/${"a".repeat(31)}${i}`, noCache)).status).toBe(404);
      const res = await call(`${KEYS_PATH}/${"b".repeat(32)}`, noCache);
      expect(res.status).toBe(503);
      expect((await envelope(res)).errors[0].code).toBe(10032);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await emulator.calls())["turn_keys.get"]).toBe(6);
    });
  });

  it("leases read tokens a few at a time: nine upstream reads cost three object requests", async () => {
    const { namespace, counts } = countingNamespace();
    for (let i = 0; i < 9; i++) {
      const res = await fetchWith({ ACCOUNT_STATE: namespace }, KEYS_PATH, {
        headers: { authorization: `Bearer ${CALLERS.admin.token}`, "cache-control": "no-cache" },
      });
      expect(res.headers.get("x-cache")).toBe("BYPASS");
    }
    expect((await emulator.calls())["turn_keys.list"]).toBe(9);
    expect(counts).toEqual({ leaseV4: 3 });
  });
});

describe("moving over from KV", () => {
  it("reads the active key an earlier version kept in KV, once, and vends with it", async () => {
    const made = await emulator.createOutOfBand("from-kv");
    await secrets().store(made.uid, made.key, "admin");
    const old = { key_id: made.uid, set_by: "admin", set_at: "2026-11-20T10:00:00.000Z" };
    await env.TURNVEND_KV.put("vend:v1:active-key", JSON.stringify(old));

    const view = await envelope<Record<string, unknown>>(await call(ACTIVE_KEY_PATH));
    expect(view.result).toEqual({ ...old, pinned: false });
    const vended = await call(VEND_PATH, { as: { token: await userJwt(freshSubject()) }, method: "POST" });
    expect(vended.status).toBe(200);
    expect(((await emulator.state()) as { credentials: { keyId: string }[] }).credentials[0].keyId).toBe(made.uid);

    // Moved over: the object holds it now, whatever becomes of the old record.
    await env.TURNVEND_KV.delete("vend:v1:active-key");
    forgetRecentActiveKey();
    expect((await envelope<{ key_id: string }>(await call(ACTIVE_KEY_PATH))).result.key_id).toBe(made.uid);
    expect(await accountRows("control")).toContainEqual({ name: "active_key", value: JSON.stringify(old) });
  });

  it("keeps a key chosen after the upgrade over an earlier version's record", async () => {
    const chosen = await activeVendingKey();
    await env.TURNVEND_KV.put(
      "vend:v1:active-key",
      JSON.stringify({ key_id: "f".repeat(32), set_by: "admin", set_at: "2026-11-20T10:00:00.000Z" }),
    );
    forgetRecentActiveKey();
    expect((await envelope<{ key_id: string }>(await call(ACTIVE_KEY_PATH))).result.key_id).toBe(chosen.uid);
  });
});

describe("when the account object cannot be reached", () => {
  const failing = () => ({ ACCOUNT_STATE: failingNamespace() });
  const admin = { authorization: `Bearer ${CALLERS.admin.token}` };
  const json = { ...admin, "content-type": "application/json" };

  it("a create gets a deliberate 503 with Retry-After, never a 500, and nothing goes upstream", async () => {
    const res = await fetchWith(failing(), KEYS_PATH, { method: "POST", headers: json, body: '{"name":"x"}' });
    await expectError(res, 503, 10038);
    expect(res.headers.get("retry-after")).toBe("2");
    expect((await emulator.calls()).total).toBe(0);
  });

  it("reading and choosing the active key get 503", async () => {
    await expectError(await fetchWith(failing(), ACTIVE_KEY_PATH, { headers: admin }), 503, 10038);
    const made = await emulator.createOutOfBand();
    await secrets().store(made.uid, made.key, "admin");
    const put = await fetchWith(failing(), ACTIVE_KEY_PATH, {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ key_id: made.uid }),
    });
    await expectError(put, 503, 10038);
  });

  it("a vend with no recent copy of the active key gets 503 and makes no upstream call", async () => {
    await activeVendingKey();
    forgetRecentActiveKey();
    const res = await fetchWith(failing(), VEND_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${await userJwt(freshSubject())}` },
    });
    await expectError(res, 503, 10038);
    expect(res.headers.get("retry-after")).toBe("2");
    expect((await emulator.calls()).total).toBe(0);
  });

  it("a vend keeps using the active key this isolate read within the last 5 minutes", async () => {
    const key = await activeVendingKey();
    const later = Date.now() + 120_000; // past VENDING_KEY_MEMORY_MS, within VENDING_KEY_STALE_MS
    vi.spyOn(Date, "now").mockReturnValue(later);
    const res = await fetchWith(failing(), VEND_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${await userJwt(freshSubject())}` },
    });
    vi.restoreAllMocks();
    expect(res.status).toBe(200);
    expect(((await emulator.state()) as { credentials: { keyId: string }[] }).credentials[0].keyId).toBe(key.uid);
  });

  it("a read that must ask Cloudflare is served from the cache (STALE), or 503 when nothing is cached", async () => {
    await call(KEYS_PATH, { method: "POST", body: { name: "cached" } });
    await call(KEYS_PATH, noCache);
    forgetV4Memory();
    const before = (await emulator.calls()).total;
    const stale = await fetchWith(failing(), KEYS_PATH, { headers: { ...admin, "cache-control": "no-cache" } });
    expect(stale.status).toBe(200);
    expect(stale.headers.get("x-cache")).toBe("STALE");
    const missing = await fetchWith(failing(), `${KEYS_PATH}/${"c".repeat(32)}`, { headers: admin });
    await expectError(missing, 503, 10038);
    expect((await emulator.calls()).total).toBe(before);
  });

  it("/healthz stays 200 and reports the budget as null", async () => {
    forgetV4Memory();
    const res = await fetchWith(failing(), "/healthz");
    expect(res.status).toBe(200);
    expect((await envelope<{ v4_budget: unknown }>(res)).result).toEqual({ status: "ok", v4_budget: null });
  });

  it("vending asks the object at most once per 30 seconds per isolate, not once per vend", async () => {
    await activeVendingKey();
    forgetRecentActiveKey();
    const { namespace, counts } = countingNamespace();
    for (let i = 0; i < 5; i++) {
      const res = await fetchWith({ ACCOUNT_STATE: namespace }, VEND_PATH, {
        method: "POST",
        headers: { authorization: `Bearer ${await userJwt(freshSubject())}` },
      });
      expect(res.status).toBe(200);
    }
    expect(counts).toEqual({ activeKey: 1 });
  });
});
