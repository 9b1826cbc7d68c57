import { SELF } from "cloudflare:test";
import { beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import { createTurnvendClient, TurnvendApiError, type TurnKey } from "../src/client";
import { emulator } from "./support/emulator";
import { ACCOUNT_ID, CALLERS, OTHER_ACCOUNT_ID, type Role } from "./support/fixtures";
import { resetWorld } from "./support/reset";

const clientFor = (role: Role, accountId = ACCOUNT_ID) =>
  createTurnvendClient({
    baseUrl: "http://turnvend.test/",
    token: CALLERS[role].token,
    accountId,
    fetch: (input, init) => SELF.fetch(input, init),
  });

beforeEach(() => resetWorld());

describe("the typed client, against the running service", () => {
  it("reads usage and works the guard: stop, resume, clear a user", async () => {
    const admin = clientFor("admin");
    const report = await admin.usage.get({ subject: "someone" });
    expect(report.guard.vending).toBe("open");
    expect(report.user?.user).toMatch(/^[0-9a-f]{32}$/);
    expect(await admin.guard.change({ action: "stop" })).toMatchObject({ vending: "stopped", kill_switch: true });
    expect(await admin.guard.change({ action: "resume" })).toMatchObject({ vending: "open", kill_switch: false });
    expect(await admin.guard.change({ action: "clear_user", subject: "someone" })).toMatchObject({ cleared: false });
    await expect(clientFor("reader").usage.get()).rejects.toMatchObject({ status: 403, code: 10011 });
  });

  it("manages keys end to end: create, list, get, update, choose the vending key, vend, revoke, audit, delete", async () => {
    const admin = clientFor("admin");

    const created = await admin.keys.create({ name: "rooms" }, { idempotencyKey: crypto.randomUUID() });
    expect(created.name).toBe("rooms");
    expect(created.key).toHaveLength(64); // admin holds keys:reveal
    expect(await clientFor("writer").keys.create({ name: "quiet" })).not.toHaveProperty("key");

    expect((await admin.keys.list()).map((k) => k.name).sort()).toEqual(["quiet", "rooms"]);
    expect(await admin.keys.get(created.uid, { fresh: true })).toMatchObject({ uid: created.uid, name: "rooms" });
    expect(await admin.keys.update(created.uid, { name: "rooms-2" })).toMatchObject({
      uid: created.uid,
      name: "rooms-2",
    });

    expect(await admin.activeKey.set(created.uid)).toMatchObject({
      key_id: created.uid,
      pinned: false,
      set_by: "admin",
    });
    expect((await admin.activeKey.get()).key_id).toBe(created.uid);

    const vended = await clientFor("issuer").vendIceServers({ subject: "alice", ttl: 600 });
    expect(vended.ttl).toBe(600);
    expect(vended.iceServers.some((s) => s.urls.some((u) => u.startsWith("turn:")) && s.username && s.credential)).toBe(
      true,
    );
    expect(Date.parse(vended.expiresAt)).toBeGreaterThan(Date.now());

    expect(await clientFor("revoker").credentials.revoke({ subject: "alice" })).toEqual({
      revoked: 1,
      remaining: false,
    });

    const page = await clientFor("auditor").audit.list({ limit: 10 });
    expect(page.events.map((e) => e.action)).toEqual(expect.arrayContaining(["turn_key.create", "turn_key.update"]));
    expect(page.events.every((e) => e.outcome === "success")).toBe(true);

    expect((await admin.keys.delete(created.uid)).uid).toBe(created.uid);
    expect((await admin.keys.list()).map((k) => k.name)).toEqual(["quiet"]);
  });

  it("types its answers from the response schemas", () => {
    const admin = clientFor("admin");
    expectTypeOf(admin.keys.get).returns.resolves.toEqualTypeOf<TurnKey>();
    expectTypeOf(admin.vendIceServers).returns.resolves.toHaveProperty("expiresAt").toEqualTypeOf<string>();
    // @ts-expect-error: revoke takes exactly one of username or subject
    void (() => admin.credentials.revoke({}));
    // @ts-expect-error: a key name is a string
    void (() => admin.keys.create({ name: 5 }));
  });

  it("throws a typed TurnvendApiError with status, code and kind for a missing key", async () => {
    const err = await clientFor("admin")
      .keys.get("0".repeat(32))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TurnvendApiError);
    expect(err).toMatchObject({ status: 404, code: 10021, kind: "key_not_found" });
    expect((err as TurnvendApiError).requestId).toMatch(/^[A-Za-z0-9-]{8,64}$/);
  });

  it("surfaces scope and account refusals with their kinds, without calling upstream", async () => {
    await expect(clientFor("reader").keys.create({ name: "x" })).rejects.toMatchObject({
      status: 403,
      kind: "forbidden",
    });
    await expect(clientFor("admin", OTHER_ACCOUNT_ID).keys.list()).rejects.toMatchObject({
      status: 403,
      kind: "account_mismatch",
    });
    await expect(
      createTurnvendClient({
        baseUrl: "http://turnvend.test",
        token: "nope",
        accountId: ACCOUNT_ID,
        fetch: (i, init) => SELF.fetch(i, init),
      }).keys.list(),
    ).rejects.toMatchObject({
      status: 401,
      kind: "unauthorized",
    });
    expect((await emulator.calls()).total).toBe(0);
  });
});
