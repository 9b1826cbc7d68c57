import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { resetWorld } from "./support/reset";
import { activeVendingKey, ACTIVE_KEY_PATH, expectError, fetchWith, freshSubject, userJwt, vend } from "./support/vend";

type View = { key_id: string | null; pinned: boolean; set_by: string | null; set_at: string | null };

beforeEach(async () => {
  await resetWorld();
  await env.TURNVEND_KV.delete("vend:v1:active-key");
});

describe("GET and PUT /v1/active-key", () => {
  it("reports no key before one is set", async () => {
    const res = await call(ACTIVE_KEY_PATH, { as: "reader" });
    expect(res.status).toBe(200);
    expect((await envelope<View>(res)).result).toEqual({ key_id: null, pinned: false, set_by: null, set_at: null });
  });

  it("makes a key created through turnvend the vending key", async () => {
    const created = await call(KEYS_PATH, { method: "POST", body: { name: "vending" } });
    expect(created.status).toBe(201);
    const { uid } = (await envelope<{ uid: string }>(created)).result;

    const put = await call(ACTIVE_KEY_PATH, { as: "writer", method: "PUT", body: { key_id: uid } });
    expect(put.status).toBe(200);
    expect((await envelope<View>(put)).result).toMatchObject({ key_id: uid, pinned: false, set_by: "writer" });
    expect((await envelope<View>(await call(ACTIVE_KEY_PATH, { as: "reader" }))).result.key_id).toBe(uid);

    expect((await vend(await userJwt(freshSubject()))).status).toBe(200);
    const { credentials } = (await emulator.state()) as { credentials: { keyId: string }[] };
    expect(credentials[0].keyId).toBe(uid);
  });

  it("switches vending to the new key on rotation", async () => {
    const first = await activeVendingKey();
    const second = await activeVendingKey();
    expect(first.uid).not.toBe(second.uid);
    expect((await vend(await userJwt(freshSubject()))).status).toBe(200);
    const { credentials } = (await emulator.state()) as { credentials: { keyId: string }[] };
    expect(credentials.map((c) => c.keyId)).toEqual([second.uid]);
  });

  it("refuses a key whose secret turnvend does not hold, with 409 and no change", async () => {
    const elsewhere = await emulator.createOutOfBand("no-secret-here");
    await expectError(await call(ACTIVE_KEY_PATH, { method: "PUT", body: { key_id: elsewhere.uid } }), 409, 10023);
    expect((await envelope<View>(await call(ACTIVE_KEY_PATH))).result.key_id).toBeNull();
    expect((await emulator.calls()).total).toBe(0);
  });

  it("refuses a malformed key id", async () => {
    for (const key_id of ["../etc", "A".repeat(32), "a".repeat(31)]) {
      await expectError(await call(ACTIVE_KEY_PATH, { method: "PUT", body: { key_id } }), 400, 10004);
    }
    await expectError(await call(ACTIVE_KEY_PATH, { method: "PUT", body: {} }), 400, 10004);
    await expectError(await call(ACTIVE_KEY_PATH, { method: "PUT", body: { key_id: 5 } }), 400, 10001);
  });

  it("needs keys:write to change and keys:read to look", async () => {
    const key = await emulator.createOutOfBand();
    await expectError(
      await call(ACTIVE_KEY_PATH, { as: "reader", method: "PUT", body: { key_id: key.uid } }),
      403,
      10011,
    );
    await expectError(await call(ACTIVE_KEY_PATH, { as: "issuer" }), 403, 10011);
    await expectError(await call(ACTIVE_KEY_PATH, { as: "none" }), 401, 10010);
  });

  it("reports TURN_KEY_ID as pinned and refuses changes while it is set", async () => {
    const pinned = "0123456789abcdef0123456789abcdef";
    const get = await fetchWith({ TURN_KEY_ID: pinned }, ACTIVE_KEY_PATH, {
      headers: { authorization: "Bearer tv_test_reader_51d7e0" },
    });
    expect((await envelope<View>(get)).result).toMatchObject({ key_id: pinned, pinned: true });
    const put = await fetchWith({ TURN_KEY_ID: pinned }, ACTIVE_KEY_PATH, {
      method: "PUT",
      headers: { authorization: "Bearer tv_test_admin_9f3c2a", "content-type": "application/json" },
      body: JSON.stringify({ key_id: pinned }),
    });
    await expectError(put, 409, 10023);
  });
});
