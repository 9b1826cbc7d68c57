// Acceptance: an internal service using the official `cloudflare` SDK works against turnvend by changing
// only baseURL and apiToken. The SDK is the real npm package, its requests served by the Worker under test.
import { SELF } from "cloudflare:test";
import Cloudflare from "cloudflare";
import { beforeEach, describe, expect, it } from "vitest";
import { resetWorld } from "./support/reset";
import { emulator } from "./support/emulator";
import { ACCOUNT_ID, CALLERS, type Role } from "./support/fixtures";

const account_id = ACCOUNT_ID;

function sdkAs(role: Role | { token: string }): Cloudflare {
  return new Cloudflare({
    apiToken: typeof role === "string" ? CALLERS[role].token : role.token,
    baseURL: "http://turnvend.test/client/v4",
    fetch: (url, init) => SELF.fetch(url, init),
    maxRetries: 0,
  });
}

beforeEach(async () => {
  await resetWorld();
});

describe("the official cloudflare SDK, pointed at turnvend", () => {
  it("lists, creates, gets, updates and deletes TURN keys", async () => {
    const sdk = sdkAs("admin");
    expect((await sdk.calls.turn.list({ account_id })).result).toEqual([]);

    const created = await sdk.calls.turn.create({ account_id, name: "sdk-room" });
    expect(created.uid).toMatch(/^[0-9a-f]{32}$/);
    expect(created.name).toBe("sdk-room");
    expect(created.key).toHaveLength(64);
    expect(Date.parse(created.created)).not.toBeNaN();

    const listed = await sdk.calls.turn.list({ account_id });
    expect(listed.result.map((k) => [k.uid, k.name])).toEqual([[created.uid, "sdk-room"]]);
    // The page iterates like any SDK list.
    const iterated = [];
    for await (const k of sdk.calls.turn.list({ account_id })) iterated.push(k.uid);
    expect(iterated).toEqual([created.uid]);

    const got = await sdk.calls.turn.get(created.uid, { account_id });
    expect(got).toEqual({ uid: created.uid, name: "sdk-room", created: created.created, modified: created.modified });

    const updated = await sdk.calls.turn.update(created.uid, { account_id, name: "renamed" });
    expect(updated.uid).toBe(created.uid);
    expect(updated.name).toBe("renamed");
    expect((await sdk.calls.turn.get(created.uid, { account_id })).name).toBe("renamed");

    const deleted = await sdk.calls.turn.delete(created.uid, { account_id });
    expect(deleted.uid).toBe(created.uid);
    expect((await sdk.calls.turn.list({ account_id })).result).toEqual([]);
    expect((await emulator.state()).keys).toEqual([]);
  });

  it("creates through the SDK with a 201 and keeps the secret from callers without keys:reveal", async () => {
    const created = await sdkAs("writer").calls.turn.create({ account_id, name: "quiet" });
    expect(created.uid).toMatch(/^[0-9a-f]{32}$/);
    expect(created).not.toHaveProperty("key");
    // The raw response shows the status the SDK saw.
    const { response } = await sdkAs("writer").calls.turn.create({ account_id }).withResponse();
    expect(response.status).toBe(201);
  });

  it("surfaces a 404 for an unknown or deleted key as Cloudflare.NotFoundError", async () => {
    const sdk = sdkAs("admin");
    const created = await sdk.calls.turn.create({ account_id, name: "short-lived" });
    await sdk.calls.turn.delete(created.uid, { account_id });

    for (const id of [created.uid, "0123456789abcdef0123456789abcdef"]) {
      const err = await sdk.calls.turn.get(id, { account_id }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Cloudflare.NotFoundError);
      expect((err as InstanceType<typeof Cloudflare.NotFoundError>).status).toBe(404);
      expect((err as InstanceType<typeof Cloudflare.NotFoundError>).errors).toEqual([
        { code: 10021, message: expect.any(String) },
      ]);
    }
  });

  it("surfaces a missing scope as Cloudflare.PermissionDeniedError, without an upstream call", async () => {
    const err = await sdkAs("reader")
      .calls.turn.create({ account_id, name: "nope" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Cloudflare.PermissionDeniedError);
    expect((err as InstanceType<typeof Cloudflare.PermissionDeniedError>).status).toBe(403);
    expect((err as InstanceType<typeof Cloudflare.PermissionDeniedError>).errors).toEqual([
      { code: 10011, message: expect.stringContaining("keys:write") },
    ]);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("surfaces an unknown caller token as Cloudflare.AuthenticationError", async () => {
    const err = await sdkAs({ token: "tv_test_nobody_000000" })
      .calls.turn.list({ account_id })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Cloudflare.AuthenticationError);
    expect((await emulator.calls()).total).toBe(0);
  });
});
