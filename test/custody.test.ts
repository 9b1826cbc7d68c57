// Key secret custody: sealed with AES-256-GCM in KV, bound to its key id, never stored in the clear, and a
// damaged record is never used.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { Failure } from "../src/errors";
import { ERRORS, statusOf } from "../src/http/codes";
import { forgetOpenedSecrets, KeySecrets } from "../src/storage/key-secrets";
import { call, envelope, KEYS_PATH } from "./support/api";
import { resetWorld } from "./support/reset";
import { emulator } from "./support/emulator";
import { KEY_ENCRYPTION_KEY } from "./support/fixtures";
import { dumpKv, readIndex, secretKey } from "./support/kv";
import { captureConsole } from "./support/logs";
import { activeVendingKey, freshSubject, userJwt, vend } from "./support/vend";

beforeEach(async () => {
  await resetWorld();
});

const secrets = () => new KeySecrets(env.TURNVEND_KV, KEY_ENCRYPTION_KEY);

async function createAs(role: "admin" | "writer", name = "custody") {
  const res = await call(KEYS_PATH, { as: role, method: "POST", body: { name } });
  expect(res.status).toBe(201);
  return (await envelope<{ uid: string; key?: string }>(res)).result;
}

async function rawRecord(keyId: string): Promise<Record<string, unknown>> {
  const raw = await env.TURNVEND_KV.get(secretKey(keyId));
  expect(raw).not.toBeNull();
  return JSON.parse(raw!) as Record<string, unknown>;
}

/** Asserts that opening the stored record fails closed: the 503 custody_failure, never a wrong value. */
async function expectFailsClosed(keyId: string) {
  const err = await secrets()
    .load(keyId)
    .then(
      (value) => ({ value }),
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(Failure);
  expect((err as Failure).kind).toBe("custody_failure");
  expect(statusOf(err as Failure)).toBe(503);
  expect(ERRORS[(err as Failure).kind].code).toBe(10034);
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unbase64 = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

describe("stored key secrets", () => {
  it("never appear in the clear in any KV value, key name or metadata", async () => {
    const revealed = await createAs("admin", "one");
    const hidden = await createAs("writer", "two");
    const oob = await emulator.createOutOfBand("adopted");
    expect((await call(`/v1/keys/${oob.uid}/secret`, { method: "PUT", body: { key: oob.key } })).status).toBe(200);
    await call(KEYS_PATH, { headers: { "cache-control": "no-cache" } });

    const stored = [revealed.key!, (await secrets().load(hidden.uid))!, oob.key];
    for (const s of stored) expect(s).toHaveLength(64);

    const entries = await dumpKv();
    expect(entries.map((e) => e.name)).toEqual(
      expect.arrayContaining([secretKey(revealed.uid), secretKey(hidden.uid), secretKey(oob.uid)]),
    );
    for (const entry of entries) {
      const text = `${entry.name}\n${entry.value}\n${JSON.stringify(entry.metadata)}`;
      for (const s of stored) {
        expect(text).not.toContain(s);
        expect(text).not.toContain(base64(new TextEncoder().encode(s)));
      }
    }
  });

  it("are kept for callers without keys:reveal too, and open to the secret upstream issued", async () => {
    const hidden = await createAs("writer");
    const secret = await secrets().load(hidden.uid);
    expect(secret).toHaveLength(64);
    // Proof it is the real secret: the rtc service accepts it as the key's bearer.
    const rtc = await fetch(
      `${(env as unknown as { EMULATOR_URL: string }).EMULATOR_URL}/v1/turn/keys/${hidden.uid}/credentials/generate-ice-servers`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
        body: JSON.stringify({ ttl: 600 }),
      },
    );
    expect(rtc.status).toBe(201);
  });

  it("open to exactly the secret shown once to a keys:reveal caller", async () => {
    const created = await createAs("admin");
    expect(await secrets().load(created.uid)).toBe(created.key);
  });

  it("are sealed records { v, kek, iv, ct } with a 96-bit IV, with who stored them in metadata", async () => {
    const created = await createAs("writer");
    const record = await rawRecord(created.uid);
    expect(Object.keys(record).sort()).toEqual(["ct", "iv", "kek", "v"]);
    expect(record.v).toBe(1);
    expect(record.kek).toBe("k1");
    expect(unbase64(record.iv as string)).toHaveLength(12);
    // 64 bytes of plaintext plus GCM's 16-byte tag.
    expect(unbase64(record.ct as string)).toHaveLength(80);
    const { metadata } = await env.TURNVEND_KV.getWithMetadata(secretKey(created.uid));
    expect(metadata).toEqual({ created_by: "writer", stored_at: expect.any(String) });
  });

  it("use a fresh IV for every sealing, even of the same secret under the same id", async () => {
    const id = "ab".repeat(16);
    const secret = "s".repeat(64);
    const seen = new Set<string>();
    const cts = new Set<string>();
    for (let i = 0; i < 5; i++) {
      await secrets().store(id, secret, "test");
      const record = await rawRecord(id);
      seen.add(record.iv as string);
      cts.add(record.ct as string);
    }
    expect(seen.size).toBe(5);
    expect(cts.size).toBe(5);
    expect(await secrets().load(id)).toBe(secret);
  });
});

describe("a damaged or misplaced record fails closed", () => {
  const id = "0123456789abcdef0123456789abcdef";
  const other = "fedcba9876543210fedcba9876543210";
  const secret = "t".repeat(64);

  beforeEach(async () => {
    await secrets().store(id, secret, "test");
  });

  async function rewrite(keyId: string, change: (r: Record<string, unknown>) => unknown) {
    const record = await rawRecord(id);
    await env.TURNVEND_KV.put(secretKey(keyId), typeof change === "function" ? JSON.stringify(change(record)) : "");
  }

  it("opens when untouched (the control for the cases below)", async () => {
    expect(await secrets().load(id)).toBe(secret);
  });

  it("when one byte of the ciphertext is flipped", async () => {
    await rewrite(id, (r) => {
      const ct = unbase64(r.ct as string);
      ct[10] ^= 0x01;
      return { ...r, ct: base64(ct) };
    });
    await expectFailsClosed(id);
  });

  it("when one byte of the authentication tag is flipped", async () => {
    await rewrite(id, (r) => {
      const ct = unbase64(r.ct as string);
      ct[ct.length - 1] ^= 0x80;
      return { ...r, ct: base64(ct) };
    });
    await expectFailsClosed(id);
  });

  it("when the IV is changed", async () => {
    await rewrite(id, (r) => ({ ...r, iv: base64(new Uint8Array(12)) }));
    await expectFailsClosed(id);
  });

  it("when the ciphertext is truncated", async () => {
    await rewrite(id, (r) => ({ ...r, ct: base64(unbase64(r.ct as string).slice(0, 40)) }));
    await expectFailsClosed(id);
  });

  it("when key A's record is copied under key B's name (the key id is bound as additional data)", async () => {
    await rewrite(other, (r) => r);
    await expectFailsClosed(other);
    expect(await secrets().load(id)).toBe(secret);
  });

  it("when the record names an unknown key-encryption key", async () => {
    await rewrite(id, (r) => ({ ...r, kek: "k9" }));
    await expectFailsClosed(id);
  });

  it("when the record has the wrong version or is missing a field", async () => {
    await rewrite(id, (r) => ({ ...r, v: 2 }));
    await expectFailsClosed(id);
    await rewrite(id, ({ ct: _ct, ...rest }) => rest);
    await expectFailsClosed(id);
  });

  it("when the record is not JSON", async () => {
    await env.TURNVEND_KV.put(secretKey(id), "not json {");
    await expectFailsClosed(id);
  });

  it("when the right ciphertext is opened with a different key-encryption key under the same id", async () => {
    const impostor = new KeySecrets(env.TURNVEND_KV, "k1:" + base64(new Uint8Array(32).fill(7)));
    const err = await impostor.load(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Failure);
    expect((err as Failure).kind).toBe("custody_failure");
  });
});

describe("key-encryption key rotation", () => {
  it("seals with the first key and still opens records sealed under an older one", async () => {
    const id = "cd".repeat(16);
    await secrets().store(id, "o".repeat(64), "test");
    const rotated = new KeySecrets(env.TURNVEND_KV, `k2:${base64(new Uint8Array(32).fill(9))},${KEY_ENCRYPTION_KEY}`);
    expect(await rotated.load(id)).toBe("o".repeat(64));

    const fresh = "ef".repeat(16);
    await rotated.store(fresh, "n".repeat(64), "test");
    expect((await rawRecord(fresh)).kek).toBe("k2");
    expect(await rotated.load(fresh)).toBe("n".repeat(64));
    // The old ring alone cannot open what the new key sealed.
    const err = await secrets()
      .load(fresh)
      .catch((e: unknown) => e);
    expect((err as Failure).kind).toBe("custody_failure");
  });
});

describe("adopting a key made elsewhere: PUT /v1/keys/:key_id/secret", () => {
  it("stores the secret of a key that exists upstream, for later vending", async () => {
    const oob = await emulator.createOutOfBand("terraform");
    const res = await call(`/v1/keys/${oob.uid}/secret`, { as: "writer", method: "PUT", body: { key: oob.key } });
    expect(res.status).toBe(200);
    const body = await envelope<Record<string, unknown>>(res);
    expect(body.result).toMatchObject({ uid: oob.uid, name: "terraform", has_secret: true });
    expect(JSON.stringify(body)).not.toContain(oob.key);

    expect(await secrets().load(oob.uid)).toBe(oob.key);
    const { metadata } = await env.TURNVEND_KV.getWithMetadata(secretKey(oob.uid));
    expect(metadata).toMatchObject({ created_by: "writer" });
    const entry = (await readIndex())?.keys.find((k) => k.uid === oob.uid);
    expect(entry).toMatchObject({ has_secret: true, created_by: "writer" });
    expect((await emulator.calls())["turn_keys.get"]).toBe(1);
  });

  it("refuses with 404 a key id that does not exist upstream, and stores nothing", async () => {
    const id = "9".repeat(32);
    const res = await call(`/v1/keys/${id}/secret`, { method: "PUT", body: { key: "k".repeat(64) } });
    expect(res.status).toBe(404);
    expect((await envelope(res)).errors[0].code).toBe(10021);
    expect(await env.TURNVEND_KV.get(secretKey(id))).toBeNull();
  });

  it.each([
    ["63 characters", { key: "k".repeat(63) }, 10001],
    ["65 characters", { key: "k".repeat(65) }, 10001],
    ["an empty key", { key: "" }, 10001],
    ["no key at all", {}, 10001],
    ["a key that is not a string", { key: 64 }, 10001],
    // Sealing encodes the secret as UTF-8 (a lone surrogate would come back as U+FFFD), and it is sent
    // upstream as a bearer token: only visible ASCII survives both.
    ["a key with an unpaired surrogate", { key: `${"k".repeat(63)}\ud800` }, 10001],
    ["a key with a control character", { key: `${"k".repeat(63)}\n` }, 10001],
    ["a key with a space", { key: `${"k".repeat(32)} ${"k".repeat(31)}` }, 10001],
    ["a key with a non-ASCII character", { key: `${"k".repeat(63)}\u00e9` }, 10001],
    ["an extra field", { key: "k".repeat(64), name: "x" }, 10003],
  ])("refuses %s with 400, without calling upstream or storing anything", async (_label, body, code) => {
    const oob = await emulator.createOutOfBand();
    const res = await call(`/v1/keys/${oob.uid}/secret`, { method: "PUT", body });
    expect(res.status).toBe(400);
    expect((await envelope(res)).errors[0].code).toBe(code);
    expect((await emulator.calls()).total).toBe(0);
    expect(await env.TURNVEND_KV.get(secretKey(oob.uid))).toBeNull();
  });

  it("names a missing key as missing, not as an unknown field", async () => {
    const oob = await emulator.createOutOfBand();
    const res = await call(`/v1/keys/${oob.uid}/secret`, { method: "PUT", body: {} });
    const message = (await envelope(res)).errors[0].message;
    expect(message).toContain('"key"');
    expect(message).not.toMatch(/unknown/i);
  });

  it("refuses a malformed key id with 400 and no upstream call", async () => {
    const res = await call(`/v1/keys/..%2F..%2Faccounts/secret`, { method: "PUT", body: { key: "k".repeat(64) } });
    expect([400, 404]).toContain(res.status);
    expect((await emulator.calls()).total).toBe(0);
  });
});

describe("adoption verifies the secret with Cloudflare before storing it", () => {
  const adopt = (keyId: string, key: string, as: "admin" | "writer" = "admin") =>
    call(`/v1/keys/${keyId}/secret`, { as, method: "PUT", body: { key } });
  const WRONG = "e".repeat(64);
  const probes = async () =>
    (await emulator.state()).credentials as { customIdentifier: string | null; ttl: number; revoked: boolean }[];

  it("refuses a secret Cloudflare does not take for the key with 422 (10027), storing nothing", async () => {
    const oob = await emulator.createOutOfBand("terraform");
    const res = await adopt(oob.uid, WRONG);
    expect(res.status).toBe(422);
    const body = await envelope(res);
    expect(body.errors[0].code).toBe(10027);
    expect(body.errors[0].message).toMatch(/not this TURN key's secret/);
    expect(JSON.stringify(body)).not.toContain(WRONG);
    expect(await env.TURNVEND_KV.get(secretKey(oob.uid))).toBeNull();
    expect((await readIndex())?.keys.find((k) => k.uid === oob.uid)?.has_secret ?? false).toBe(false);
    // The key's get, then one probe that Cloudflare refused: nothing to revoke.
    const calls = await emulator.calls();
    expect(calls).toMatchObject({ "turn_keys.get": 1, "credentials.generate_ice_servers": 1, "credentials.revoke": 0 });
    expect(calls.total).toBe(2);
  });

  it.each([403, 404])("takes a %i from the credential route as a refused secret too", async (status) => {
    const oob = await emulator.createOutOfBand();
    await emulator.fault({ route: "credentials.generate_ice_servers", status });
    const res = await adopt(oob.uid, oob.key);
    expect(res.status).toBe(422);
    expect((await envelope(res)).errors[0].code).toBe(10027);
    expect(await env.TURNVEND_KV.get(secretKey(oob.uid))).toBeNull();
  });

  it("proves the right secret with one 60-second probe credential, revoked at once, in 3 upstream calls", async () => {
    const oob = await emulator.createOutOfBand("terraform");
    const res = await adopt(oob.uid, oob.key);
    expect(res.status).toBe(200);
    expect(await secrets().load(oob.uid)).toBe(oob.key);
    const calls = await emulator.calls();
    expect(calls).toMatchObject({ "turn_keys.get": 1, "credentials.generate_ice_servers": 1, "credentials.revoke": 1 });
    expect(calls.total).toBe(3);
    // Tagged as turnvend's own, so usage analytics never count it as a user's.
    expect(await probes()).toEqual([
      expect.objectContaining({ customIdentifier: "turnvend-adoption-check", ttl: 60, revoked: true }),
    ]);
  });

  it("replaces a wrong held secret with one that verifies, and vending works again", async () => {
    const key = await activeVendingKey();
    await secrets().store(key.uid, WRONG, "test");
    forgetOpenedSecrets();
    expect((await vend(await userJwt(freshSubject()))).status).toBe(503);

    const logs = captureConsole();
    const res = await adopt(key.uid, key.key, "writer");
    logs.restore();
    expect(res.status).toBe(200);
    expect(await secrets().load(key.uid)).toBe(key.key);
    expect(logs.json().find((l) => l.event === "turn_key.secret_replaced")).toMatchObject({
      key_id: key.uid,
      caller: "writer",
      previous: "different",
    });
    expect(logs.raw.join("\n")).not.toContain(key.key);
    expect(logs.raw.join("\n")).not.toContain(WRONG);
    const audit = (await (await call("/v1/audit", { as: "auditor" })).json()) as { result: { action: string }[] };
    expect(audit.result[0]).toMatchObject({ action: "turn_key.secret_replace", key_id: key.uid, outcome: "success" });

    expect((await vend(await userJwt(freshSubject()))).status).toBe(200);
  });

  it.each([
    ["the right one (created through turnvend)", true],
    ["a wrong one", false],
  ])("refuses to replace %s with a secret that does not verify, keeping the held record", async (_label, right) => {
    const held = right ? (await createAs("admin", "ours")).uid : (await emulator.createOutOfBand()).uid;
    if (!right) await secrets().store(held, WRONG, "test");
    const sealedBefore = await env.TURNVEND_KV.get(secretKey(held));
    const res = await adopt(held, "f".repeat(64));
    expect(res.status).toBe(422);
    expect((await envelope(res)).errors[0].code).toBe(10027);
    expect(await env.TURNVEND_KV.get(secretKey(held))).toBe(sealedBefore);
  });

  it("re-adopting the held secret reseals it and is not logged as a replacement", async () => {
    const created = await createAs("admin", "ours");
    const sealedBefore = await env.TURNVEND_KV.get(secretKey(created.uid));
    const logs = captureConsole();
    const res = await adopt(created.uid, created.key!);
    logs.restore();
    expect(res.status).toBe(200);
    expect(await env.TURNVEND_KV.get(secretKey(created.uid))).not.toBe(sealedBefore);
    expect(await secrets().load(created.uid)).toBe(created.key);
    const events = logs.json().map((l) => l.event);
    expect(events).toContain("turn_key.adopted");
    expect(events).not.toContain("turn_key.secret_replaced");
  });

  it.each([
    { label: "a 500 on every attempt", fault: { status: 500, count: -1 }, status: 502 },
    { label: "a hang on every attempt", fault: { hang: true, count: -1 }, status: 503 },
  ])(
    "answers $label of the probe with $status and Retry-After, storing nothing",
    async ({ fault, status }) => {
      const fresh = await emulator.createOutOfBand();
      const held = await emulator.createOutOfBand();
      await secrets().store(held.uid, WRONG, "test");
      const heldBefore = await env.TURNVEND_KV.get(secretKey(held.uid));
      await emulator.fault({ route: "credentials.generate_ice_servers", ...fault });
      for (const key of [fresh, held]) {
        const res = await adopt(key.uid, key.key);
        expect(res.status).toBe(status);
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
        expect((await envelope(res)).errors[0].code).toBe(status === 502 ? 10031 : 10032);
      }
      expect(await env.TURNVEND_KV.get(secretKey(fresh.uid))).toBeNull();
      expect(await env.TURNVEND_KV.get(secretKey(held.uid))).toBe(heldBefore);
      // Within the adoption's own allowance: a get and three probe attempts each, never a revoke.
      const calls = await emulator.calls();
      expect(calls["turn_keys.get"]).toBe(2);
      expect(calls["credentials.generate_ice_servers"]).toBeLessThanOrEqual(6);
      expect(calls["credentials.revoke"]).toBe(0);
    },
    30_000,
  );
});

describe("deleting a key through turnvend", () => {
  it("removes both its index entry and its sealed secret", async () => {
    const keep = await createAs("admin", "keep");
    const doomed = await createAs("admin", "doomed");
    await call(KEYS_PATH, { headers: { "cache-control": "no-cache" } });
    expect((await readIndex())!.keys.map((k) => k.uid).sort()).toEqual([keep.uid, doomed.uid].sort());

    expect((await call(`${KEYS_PATH}/${doomed.uid}`, { method: "DELETE" })).status).toBe(200);
    expect(await env.TURNVEND_KV.get(secretKey(doomed.uid))).toBeNull();
    expect((await readIndex())!.keys.map((k) => k.uid)).toEqual([keep.uid]);
    expect(await secrets().load(keep.uid)).toBe(keep.key);
    expect((await dumpKv()).map((e) => e.name).filter((n) => n.includes(doomed.uid))).toEqual([]);
  });

  it("keeps the secret when upstream refuses the delete", async () => {
    const key = await createAs("admin");
    await emulator.fault({ route: "turn_keys.delete", status: 500 });
    expect((await call(`${KEYS_PATH}/${key.uid}`, { method: "DELETE" })).status).toBe(502);
    expect(await secrets().load(key.uid)).toBe(key.key);
  });
});
