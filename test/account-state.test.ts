// The account object: creates serialized and exactly idempotent, key names untouched, turnvend's own v4
// budget, the state moved over from KV, and a deliberate 503 when the object cannot be reached. These run
// against the real local Durable Object (Miniflare's SQLite-backed object, inside workerd).
import { forgetGuardMemory } from "../src/storage/guard-memory";
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ACCOUNT_READ_COLD_TIMEOUT_MS, ACCOUNT_READ_ON_VEND_TIMEOUT_MS } from "../src/constants";
import { sha256Hex } from "../src/crypto/hex";
import { KeySecrets } from "../src/storage/key-secrets";
import { forgetRecentActiveKey } from "../src/storage/active-key";
import { forgetV4Memory } from "../src/upstream/v4-budget";
import { accountObject, accountRows, withAccountEnv } from "./support/account";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { CALLERS, KEY_ENCRYPTION_KEY } from "./support/fixtures";
import { captureConsole } from "./support/logs";
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

type Key = { uid: string; name: string; key?: string };

const create = (idempotencyKey: string | undefined, name = "room", as: "admin" | "writer" = "admin") =>
  call(KEYS_PATH, {
    method: "POST",
    body: { name },
    as,
    headers: idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey },
  });

const noCache = { headers: { "cache-control": "no-cache" } };
const secrets = () => new KeySecrets(env.TURNVEND_KV, KEY_ENCRYPTION_KEY);

/** The id the account object (and earlier versions' KV records) key an Idempotency-Key by. */
async function recordId(role: "admin" | "writer", idempotencyKey: string): Promise<string> {
  return sha256Hex(JSON.stringify([`caller:${await sha256Hex(CALLERS[role].token)}`, idempotencyKey]));
}

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

describe("creates are serialized through the account object", () => {
  it("20 concurrent creates with one Idempotency-Key make exactly one upstream key; every other answer is its replay or a 409", async () => {
    await emulator.fault({ route: "turn_keys.create", delayMs: 200 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => create("same-order")));
    const statuses = answers.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    // They overlapped: the ones that arrived while the first was at Cloudflare were refused, not queued.
    expect(statuses).toContain(409);
    const created = answers.filter((r) => r.status === 201);
    const originals = created.filter((r) => r.headers.get("idempotent-replayed") !== "true");
    expect(originals).toHaveLength(1);
    const uids = new Set(await Promise.all(created.map(async (r) => (await envelope<Key>(r)).result.uid)));
    expect(uids.size).toBe(1);
    for (const refused of answers.filter((r) => r.status === 409)) {
      expect((await envelope(refused)).errors[0].code).toBe(10023);
      expect(refused.headers.get("retry-after")).toBe("1");
    }
    expect((await emulator.calls())["turn_keys.create"]).toBe(1);
    expect((await emulator.state()).keys.map((k) => k.uid)).toEqual([...uids]);

    // Once it is done, every duplicate is the replay.
    const later = await create("same-order");
    expect(later.status).toBe(201);
    expect(later.headers.get("idempotent-replayed")).toBe("true");
    expect((await envelope<Key>(later)).result.uid).toBe([...uids][0]);
  });

  it("runs concurrent creates under different keys one after the other, each with the name it was sent", async () => {
    await emulator.fault({ route: "turn_keys.create", delayMs: 50, count: 5 });
    const names = ["a", "b", "c", "d", "e"].map((n) => `room ${n}`);
    const answers = await Promise.all(names.map((name, i) => create(`order-${i}`, name)));
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect((await emulator.state()).keys.map((k) => k.name).sort()).toEqual(names);
    const calls = await emulator.calls();
    expect(calls["turn_keys.create"]).toBe(5);
    // Each create lists the keys just before it: that list is how a lost answer is found again.
    expect(calls["turn_keys.list"]).toBe(5);
  });

  it("refuses a create past the queue's length with 503 and Retry-After, having created nothing for it", async () => {
    // 1 running, 16 waiting (CREATE_QUEUE_MAX), 1 refused.
    await emulator.fault({ route: "turn_keys.create", delayMs: 150, count: 1 });
    const answers = await Promise.all(Array.from({ length: 18 }, (_, i) => create(`queued-${i}`, `q${i}`)));
    const refused = answers.filter((r) => r.status === 503);
    expect(refused).toHaveLength(1);
    expect((await envelope(refused[0])).errors[0].code).toBe(10038);
    expect(refused[0].headers.get("retry-after")).toBe("2");
    expect(answers.filter((r) => r.status === 201)).toHaveLength(17);
    expect((await emulator.calls())["turn_keys.create"]).toBe(17);
    // Nothing is remembered for the refused one: its retry creates.
    const index = answers.indexOf(refused[0]);
    expect((await create(`queued-${index}`, `q${index}`)).status).toBe(201);
  });
});

describe("a create whose answer was lost is found again without tagging its name", () => {
  it("leaves one key, its upstream name exactly as sent", async () => {
    const name = "rooms · east ~ 2";
    await emulator.fault({ route: "turn_keys.create", loseReply: true });
    const lost = await create("lost-1", name);
    expect(lost.status).toBe(503);
    expect((await emulator.state()).keys).toEqual([]);

    const retry = await create("lost-1", name);
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    const keys = (await emulator.state()).keys;
    expect(keys).toHaveLength(1);
    expect(keys[0].name).toBe(name);
    expect((await envelope<Key>(retry)).result).toMatchObject({ uid: keys[0].uid, name });
    expect(await secrets().load(keys[0].uid)).toHaveLength(64);
  });

  it("leaves nothing upstream for a lost create without an Idempotency-Key", async () => {
    await emulator.fault({ route: "turn_keys.create", loseReply: true });
    expect((await create(undefined, "anonymous")).status).toBe(503);
    expect((await emulator.state()).keys).toEqual([]);
    expect((await emulator.calls())["turn_keys.delete"]).toBe(1);
    expect(await accountRows("creates")).toEqual([]);
  });

  it("deletes only its own key when someone outside turnvend made another meanwhile", async () => {
    await emulator.fault({ route: "turn_keys.create", loseReply: true });
    const lost = create("lost-2", "mine");
    await new Promise((r) => setTimeout(r, 300));
    const elsewhere = await emulator.createOutOfBand("theirs");
    expect((await lost).status).toBe(503);
    expect((await emulator.state()).keys.map((k) => k.uid)).toEqual([elsewhere.uid]);
  });

  it("deletes nothing when two new keys carry its name, since it cannot tell which is its own", async () => {
    const logs = captureConsole();
    await emulator.fault({ route: "turn_keys.create", loseReply: true });
    const lost = create("lost-3", "twin");
    await new Promise((r) => setTimeout(r, 300));
    const elsewhere = await emulator.createOutOfBand("twin");
    expect((await lost).status).toBe(503);
    logs.restore();
    const keys = (await emulator.state()).keys;
    expect(keys).toHaveLength(2);
    expect(keys.map((k) => k.uid)).toContain(elsewhere.uid);
    expect((await emulator.calls())["turn_keys.delete"]).toBe(0);
    expect(logs.json().some((l) => l.event === "turn_key.create_ambiguous")).toBe(true);
  });

  it("settles a create the object was running when it restarted: its key without a secret is deleted, then it creates", async () => {
    const orphan = await emulator.createOutOfBand("restarted");
    const id = await recordId("admin", "restart-1");
    await seedCreate({ id, name: "restarted", beforeUids: [] });
    const retry = await create("restart-1", "restarted");
    expect(retry.status).toBe(201);
    const keys = (await emulator.state()).keys;
    expect(keys).toHaveLength(1);
    expect(keys[0].uid).not.toBe(orphan.uid);
    expect(keys[0].name).toBe("restarted");
  });

  it("never takes another create's key for its own: a retry queued behind it is settled by that create's list", async () => {
    // A lost create of "room" whose settling list failed: its orphan is still upstream, its record unknown.
    const orphan = await emulator.createOutOfBand("room");
    await seedCreate({ id: await recordId("admin", "lost-room"), name: "room", beforeUids: [], state: "unknown" });
    // Another create of "room" runs first (held at Cloudflare); the retry of the lost one waits behind it.
    await emulator.fault({ route: "turn_keys.create", delayMs: 300, count: 1 });
    const other = create("other-room", "room");
    await new Promise((r) => setTimeout(r, 100));
    const retry = create("lost-room", "room");
    const [otherKey, retryKey] = await Promise.all(
      [other, retry].map(async (p) => {
        const res = await p;
        expect(res.status).toBe(201);
        expect(res.headers.get("idempotent-replayed")).toBeNull();
        return (await envelope<Key>(res)).result.uid;
      }),
    );
    expect(retryKey).not.toBe(otherKey);
    const keys = (await emulator.state()).keys.map((k) => k.uid);
    expect(keys.sort()).toEqual([otherKey, retryKey].sort());
    expect(keys).not.toContain(orphan.uid);
  });

  it("adopts the key of a create that finished its custody before the object restarted", async () => {
    const made = await emulator.createOutOfBand("finished");
    await secrets().store(made.uid, made.key, "admin");
    await seedCreate({ id: await recordId("admin", "restart-2"), name: "finished", beforeUids: [] });
    const retry = await create("restart-2", "finished");
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect((await envelope<Key>(retry)).result).toMatchObject({ uid: made.uid, name: "finished", key: made.key });
    expect((await emulator.calls())["turn_keys.create"]).toBe(0);
  });
});

/** A create record as an object that restarted mid-create leaves it (in flight, run by nobody), or a lost one. */
async function seedCreate(rec: { id: string; name: string; beforeUids: string[]; state?: "in_flight" | "unknown" }) {
  const now = Date.now();
  const record = {
    id: rec.id,
    bodyHash: await sha256Hex(JSON.stringify({ name: rec.name })),
    state: rec.state ?? "in_flight",
    name: rec.name,
    beforeUids: rec.beforeUids,
    startedAt: now,
    expiresAt: now + 86_400_000,
    result: null,
    legacyTag: null,
  };
  await runInDurableObject(accountObject(), (_instance, state) => {
    state.storage.sql.exec(
      "INSERT INTO creates (id, state, expires_at, record) VALUES (?, ?, ?, ?)",
      record.id,
      record.state,
      record.expiresAt,
      JSON.stringify(record),
    );
  });
}

describe("key names are exactly what the caller sent", () => {
  it("accepts a name ending like an earlier version's marker, and sends it as it is", async () => {
    const res = await create(undefined, "x ~tv-0123456789ab");
    expect(res.status).toBe(201);
    expect((await envelope<Key>(res)).result.name).toBe("x ~tv-0123456789ab");
    expect((await emulator.state()).keys.map((k) => k.name)).toEqual(["x ~tv-0123456789ab"]);
  });

  it("shows keys tagged by earlier versions as Cloudflare holds them, marker included", async () => {
    const tagged = await emulator.createOutOfBand("rooms ~tv-0123456789ab");
    const list = await envelope<Key[]>(await call(KEYS_PATH, noCache));
    expect(list.result.map((k) => k.name)).toEqual(["rooms ~tv-0123456789ab"]);
    const got = await envelope<Key>(await call(`${KEYS_PATH}/${tagged.uid}`, noCache));
    expect(got.result.name).toBe("rooms ~tv-0123456789ab");
  });
});

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

  it("replays a create an earlier version recorded in KV, without a second upstream create", async () => {
    const made = await emulator.createOutOfBand("room");
    await secrets().store(made.uid, made.key, "admin");
    const key = { uid: made.uid, name: "room", created: new Date().toISOString(), modified: new Date().toISOString() };
    await env.TURNVEND_KV.put(
      `idem:v2:${await recordId("admin", "old-order")}`,
      JSON.stringify({
        v: 1,
        state: "done",
        body_hash: await sha256Hex(JSON.stringify({ name: "room" })),
        started_at: Date.now() - 3_600_000,
        tag: "0123456789ab",
        result: { status: 201, key },
      }),
    );
    const replay = await create("old-order", "room");
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect((await envelope<Key>(replay)).result).toEqual({ ...key, key: made.key });
    expect((await create("old-order", "another")).status).toBe(422);
    expect((await emulator.calls())["turn_keys.create"]).toBe(0);
  });

  it("settles an earlier version's lost create by its name tag, then creates with the name as sent", async () => {
    const tag = "00aa11bb22cc";
    const orphan = await emulator.createOutOfBand(`room ~tv-${tag}`);
    await env.TURNVEND_KV.put(
      `idem:v2:${await recordId("admin", "old-lost")}`,
      JSON.stringify({
        v: 1,
        state: "unknown",
        body_hash: await sha256Hex(JSON.stringify({ name: "room" })),
        started_at: Date.now() - 600_000,
        tag,
      }),
    );
    const retry = await create("old-lost", "room");
    expect(retry.status).toBe(201);
    const keys = (await emulator.state()).keys;
    expect(keys.map((k) => k.name)).toEqual(["room"]);
    expect(keys[0].uid).not.toBe(orphan.uid);
  });

  it("answers 409 while an earlier version's create may still be running", async () => {
    await env.TURNVEND_KV.put(
      `idem:v2:${await recordId("admin", "old-running")}`,
      JSON.stringify({
        v: 1,
        state: "in_flight",
        body_hash: await sha256Hex(JSON.stringify({ name: "room" })),
        started_at: Date.now() - 5_000,
        tag: "0123456789ab",
      }),
    );
    await expectError(await create("old-running", "room"), 409, 10023);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("stops reading KV records 24 hours after the object first started", async () => {
    await env.TURNVEND_KV.put(
      `idem:v2:${await recordId("admin", "too-old")}`,
      JSON.stringify({
        v: 1,
        state: "in_flight",
        body_hash: await sha256Hex(JSON.stringify({ name: "room" })),
        started_at: Date.now(),
        tag: "0123456789ab",
      }),
    );
    await runInDurableObject(accountObject(), (_instance, state) => {
      state.storage.sql.exec(
        "UPDATE control SET value = ? WHERE name = 'installed_at'",
        JSON.stringify(Date.now() - 25 * 3_600_000),
      );
    });
    expect((await create("too-old", "room")).status).toBe(201);
  });
});

/** The real namespace, with the calls named in `slow` answering `ms` later than they would. */
function slowNamespace(slow: string[], ms: number) {
  const real = env.ACCOUNT_STATE;
  return {
    idFromName: (name: string) => real.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = real.get(id) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      return new Proxy(
        {},
        {
          get:
            (_target, method: string) =>
            async (...args: unknown[]) => {
              if (slow.includes(method)) await new Promise((r) => setTimeout(r, ms));
              return stub[method](...args);
            },
        },
      );
    },
  };
}

describe("when the account object is slow", () => {
  /**
   * One vend through `namespace`, timed to its answer: the reads it stopped waiting for go on under waitUntil,
   * and are awaited only after.
   */
  const vendVia = async (namespace: unknown) => {
    const { default: worker } = await import("../src/index");
    const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
    const ctx = createExecutionContext();
    const request = new Request(`http://turnvend.test${VEND_PATH}`, {
      method: "POST",
      headers: { authorization: `Bearer ${await userJwt(freshSubject())}` },
    });
    // Not Date.now, which a test may hold still.
    const started = performance.now();
    const res = await worker.fetch(request, { ...env, ACCOUNT_STATE: namespace } as Env, ctx);
    const ms = performance.now() - started;
    await waitOnExecutionContext(ctx);
    return { res, ms };
  };

  it(`a vend waits at most ${ACCOUNT_READ_ON_VEND_TIMEOUT_MS} ms for the guard state, then goes on with what it knows (open when never read)`, async () => {
    await activeVendingKey();
    forgetGuardMemory();
    const { res, ms } = await vendVia(slowNamespace(["guardState"], 3_000));
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(1_500);
  });

  it("a vend waits only briefly for the active key when it remembers one, and vends with that", async () => {
    const key = await activeVendingKey();
    // Read once in this isolate, then past VENDING_KEY_MEMORY_MS (within VENDING_KEY_STALE_MS).
    expect((await vendVia(env.ACCOUNT_STATE)).res.status).toBe(200);
    const later = Date.now() + 60_000;
    vi.spyOn(Date, "now").mockImplementation(() => later);
    const { res, ms } = await vendVia(slowNamespace(["activeKey"], 3_000));
    vi.restoreAllMocks();
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(1_500);
    const creds = ((await emulator.state()) as { credentials: { keyId: string }[] }).credentials;
    expect(creds.at(-1)?.keyId).toBe(key.uid);
  });

  it(`a vend with no key remembered waits at most ${ACCOUNT_READ_COLD_TIMEOUT_MS} ms for it, then answers 503 with Retry-After; the read goes on for the retry`, async () => {
    const key = await activeVendingKey();
    forgetRecentActiveKey();
    const slow = slowNamespace(["activeKey"], ACCOUNT_READ_COLD_TIMEOUT_MS + 500);

    const first = await vendVia(slow);
    await expectError(first.res, 503, 10038);
    expect(first.res.headers.get("retry-after")).toBe("2");
    expect(first.ms).toBeGreaterThanOrEqual(ACCOUNT_READ_COLD_TIMEOUT_MS - 50);
    expect(first.ms).toBeLessThan(ACCOUNT_READ_COLD_TIMEOUT_MS + 1_000);
    expect((await emulator.calls()).total).toBe(0);

    // The read outlived the request (waitUntil) and was remembered: the retry needs no read at all.
    const retry = await vendVia(slow);
    expect(retry.res.status).toBe(200);
    expect(retry.ms).toBeLessThan(ACCOUNT_READ_COLD_TIMEOUT_MS);
    const creds = ((await emulator.state()) as { credentials: { keyId: string }[] }).credentials;
    expect(creds.at(-1)?.keyId).toBe(key.uid);
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
    forgetGuardMemory();
    const res = await fetchWith(failing(), "/healthz");
    expect(res.status).toBe(200);
    expect((await envelope<{ v4_budget: unknown }>(res)).result).toEqual({
      status: "ok",
      v4_budget: null,
      analytics: null,
      guard: null,
      // The breaker on the credential API is this isolate's, in memory: no object to reach.
      credential_api: { mode: "cloudflare", state: "closed", consecutive_failures: 0, open_seconds: 0 },
    });
  });

  it("vending asks the object at most once per 30 seconds (the active key) and 15 seconds (the guard) per isolate, not once per vend", async () => {
    await activeVendingKey();
    forgetRecentActiveKey();
    forgetGuardMemory();
    const { namespace, counts } = countingNamespace();
    for (let i = 0; i < 5; i++) {
      const res = await fetchWith({ ACCOUNT_STATE: namespace }, VEND_PATH, {
        method: "POST",
        headers: { authorization: `Bearer ${await userJwt(freshSubject())}` },
      });
      expect(res.status).toBe(200);
    }
    expect(counts).toEqual({ activeKey: 1, guardState: 1 });
    // Each vend's execution context waits for its username-index write, batched once a second.
  }, 15_000);
});
