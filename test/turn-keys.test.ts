import { beforeEach, describe, expect, it } from "vitest";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { ACCOUNT_ID, OTHER_ACCOUNT_ID } from "./support/fixtures";

beforeEach(async () => {
  await emulator.reset();
});

async function createKey(name = "k") {
  const res = await call(KEYS_PATH, { method: "POST", body: { name } });
  expect(res.status).toBe(201);
  return (await envelope<{ uid: string; name: string; key?: string }>(res)).result;
}

describe("the v4 TURN key routes", () => {
  it("creates a key with 201 in Cloudflare's envelope", async () => {
    const res = await call(KEYS_PATH, { method: "POST", body: { name: "room-a" } });
    expect(res.status).toBe(201);
    const body = await envelope<Record<string, string>>(res);
    expect(body.success).toBe(true);
    expect(body.errors).toEqual([]);
    expect(body.messages).toEqual([]);
    expect(body.result.uid).toMatch(/^[0-9a-f]{32}$/);
    expect(body.result.name).toBe("room-a");
    expect(body.result.key).toHaveLength(64);
    expect(Object.keys(body.result).sort()).toEqual(["created", "key", "modified", "name", "uid"]);
  });

  it("lists, gets, updates and deletes", async () => {
    const key = await createKey("first");
    const list = await envelope<{ uid: string }[]>(await call(KEYS_PATH));
    expect(list.result.map((k) => k.uid)).toEqual([key.uid]);
    expect(JSON.stringify(list)).not.toContain('key"');

    const got = await envelope<{ name: string }>(await call(`${KEYS_PATH}/${key.uid}`));
    expect(got.result.name).toBe("first");

    const put = await call(`${KEYS_PATH}/${key.uid}`, { method: "PUT", body: { name: "renamed" } });
    expect(put.status).toBe(200);
    expect((await envelope<{ name: string }>(put)).result.name).toBe("renamed");
    expect((await envelope<{ name: string }>(await call(`${KEYS_PATH}/${key.uid}`))).result.name).toBe("renamed");

    const del = await call(`${KEYS_PATH}/${key.uid}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect((await envelope<{ uid: string }>(del)).result.uid).toBe(key.uid);
    expect((await envelope<unknown[]>(await call(KEYS_PATH))).result).toEqual([]);
    const gone = await call(`${KEYS_PATH}/${key.uid}`);
    expect(gone.status).toBe(404);
  });

  it("reveals the one-time secret only to callers holding keys:reveal", async () => {
    const res = await call(KEYS_PATH, { as: "writer", method: "POST", body: { name: "hidden" } });
    expect(res.status).toBe(201);
    const body = await envelope<Record<string, unknown>>(res);
    expect(body.result).not.toHaveProperty("key");
    expect(body.result).not.toHaveProperty("secret");
  });
});

describe("path validation", () => {
  const crafted = [
    "%2e%2e%2f",
    "..%2F",
    "..%2f..%2fuser%2ftokens",
    "abc%2Fdef",
    "0123456789abcdef0123456789abcdef0",
    "0123456789ABCDEF0123456789ABCDEF",
    "0123456789abcdef0123456789abcde",
    "0123456789abcdef0123456789abcdef%00",
    "x".repeat(5000),
  ];
  for (const id of crafted) {
    it(`rejects the key id ${JSON.stringify(id.slice(0, 40))} with 400 and no upstream call`, async () => {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const res = await call(`${KEYS_PATH}/${id}`, { method, body: method === "PUT" ? { name: "x" } : undefined });
        expect([400, 404]).toContain(res.status);
        const body = await envelope(res);
        expect(body.success).toBe(false);
        if (res.status === 400) expect(body.errors[0].code).toBe(10004);
      }
      expect((await emulator.calls()).total).toBe(0);
    });
  }

  it("refuses another account without an upstream call", async () => {
    for (const path of [
      `/client/v4/accounts/${OTHER_ACCOUNT_ID}/calls/turn_keys`,
      `/client/v4/accounts/${OTHER_ACCOUNT_ID}/calls/turn_keys/${"a".repeat(32)}`,
    ]) {
      const res = await call(path);
      expect(res.status).toBe(403);
      expect((await envelope(res)).errors[0].code).toBe(10012);
    }
    expect((await emulator.calls()).total).toBe(0);
  });

  it("answers 404 for unknown routes and 405 for wrong methods, in the envelope", async () => {
    const unknown = await call(`/client/v4/accounts/${ACCOUNT_ID}/calls/apps`);
    expect(unknown.status).toBe(404);
    expect((await envelope(unknown)).errors[0].code).toBe(10020);
    const wrong = await call(KEYS_PATH, { method: "PATCH", body: {} });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, POST");
    expect((await envelope(wrong)).errors[0].code).toBe(10022);
    expect((await emulator.calls()).total).toBe(0);
  });
});

describe("request bodies", () => {
  it.each([
    ["unknown field", { name: "a", extra: 1 }, "application/json", 400, 10003],
    ["malformed JSON", "{not json", "application/json", 400, 10002],
    ["wrong content type", JSON.stringify({ name: "a" }), "text/plain", 415, 10025],
    ["name too long", { name: "n".repeat(201) }, "application/json", 400, 10001],
    ["name not a string", { name: 5 }, "application/json", 400, 10001],
    ["a body that is not an object", "[]", "application/json", 400, 10001],
    ["a __proto__ key", '{"__proto__":{"admin":true}}', "application/json", 400, 10003],
    ["an oversized body", { name: "x".repeat(20_000) }, "application/json", 413, 10024],
  ])("refuses %s with its own 4xx and no upstream call", async (_label, body, type, status, code) => {
    const res = await call(KEYS_PATH, { method: "POST", body, headers: { "content-type": type } });
    expect(res.status).toBe(status);
    const env = await envelope(res);
    expect(env.errors[0].code).toBe(code);
    expect((await emulator.calls()).total).toBe(0);
  });
});
