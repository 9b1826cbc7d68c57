// Idempotent create, and no lost secrets: what a retrying client and a failing store can rely on.
import Cloudflare from "cloudflare";
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, envelope, KEYS_PATH, ORIGIN } from "./support/api";
import { emulator } from "./support/emulator";
import { ACCOUNT_ID, CALLERS } from "./support/fixtures";
import { withAccountEnv } from "./support/account";
import { failingPuts } from "./support/kv";
import { resetWorld } from "./support/reset";
import { sha256Hex } from "../src/crypto/hex";

beforeEach(() => resetWorld());

const create = (key: string, body: unknown = { name: "room" }, as: "admin" | "writer" = "admin") =>
  call(KEYS_PATH, { method: "POST", body, as, headers: { "idempotency-key": key } });

describe("Idempotency-Key on create", () => {
  it("replays the stored status and body for the same key and body, with one upstream create", async () => {
    const first = await create("order-1");
    const second = await create("order-1");
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await second.json()).toEqual(await first.json());
    expect((await emulator.calls())["turn_keys.create"]).toBe(1);
    expect((await emulator.state()).keys).toHaveLength(1);
  });

  it("keeps keys apart per caller", async () => {
    await create("shared-key", { name: "a" }, "admin");
    await create("shared-key", { name: "a" }, "writer");
    expect((await emulator.calls())["turn_keys.create"]).toBe(2);
  });

  it("replays to the same token after an operator renames its id, edits its scopes and reorders CALLERS", async () => {
    const first = await create("order-5", { name: "a" }, "writer");
    expect(first.status).toBe(201);

    const edited = [
      { id: "writer-renamed", token_sha256: await sha256Hex(CALLERS.writer.token), scopes: ["keys:write"] },
      { id: "admin", token_sha256: await sha256Hex(CALLERS.admin.token), scopes: [...CALLERS.admin.scopes] },
    ];
    const ctx = createExecutionContext();
    const retry = await worker.fetch(
      new Request(ORIGIN + KEYS_PATH, {
        method: "POST",
        headers: {
          authorization: `Bearer ${CALLERS.writer.token}`,
          "content-type": "application/json",
          "idempotency-key": "order-5",
        },
        body: JSON.stringify({ name: "a" }),
      }),
      { ...env, CALLERS: JSON.stringify(edited) },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await retry.json()).toEqual(await first.json());
    expect((await emulator.calls())["turn_keys.create"]).toBe(1);
  });

  it("refuses the same key with a different body with 422", async () => {
    await create("order-2", { name: "a" });
    const res = await create("order-2", { name: "b" });
    expect(res.status).toBe(422);
    expect((await envelope(res)).errors[0].code).toBe(10026);
    expect((await emulator.calls())["turn_keys.create"]).toBe(1);
  });

  it("answers 409 to a retry while the first call is still in flight", async () => {
    await emulator.fault({ route: "turn_keys.create", delayMs: 700 });
    const first = create("order-3");
    await new Promise((r) => setTimeout(r, 200));
    const second = await create("order-3");
    expect(second.status).toBe(409);
    expect((await first).status).toBe(201);
    expect((await emulator.calls())["turn_keys.create"]).toBe(1);
  });

  it("refuses a malformed Idempotency-Key with 400", async () => {
    const res = await create("bad key with spaces");
    expect(res.status).toBe(400);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("finds out what happened to a create whose answer was lost before it creates again", async () => {
    await emulator.fault({ route: "turn_keys.create", loseReply: true });
    const lost = await create("order-4");
    expect(lost.status).toBe(503);
    // Cloudflare made the key, and turnvend never saw its secret: one list told the account object which key
    // was its own (the new uid named as sent), and it deleted it before answering.
    const calls = await emulator.calls();
    expect(calls["turn_keys.create"]).toBe(1);
    expect(calls["turn_keys.delete"]).toBe(1);
    expect((await emulator.state()).keys).toHaveLength(0);

    const retry = await create("order-4");
    expect(retry.status).toBe(201);
    const keys = (await emulator.state()).keys;
    expect(keys).toHaveLength(1);
    expect(keys[0].uid).toBe((await envelope<{ uid: string }>(retry)).result.uid);
    expect(keys[0].name).toBe("room");
    // The key it kept is one turnvend can vend with.
    expect(await env.TURNVEND_KV.get(`secret:v1:${keys[0].uid}`)).not.toBeNull();
  });

  it("works with the official SDK and its automatic retries: one upstream key per idempotency key", async () => {
    const client = new Cloudflare({
      apiToken: CALLERS.admin.token,
      baseURL: `${ORIGIN}/client/v4`,
      fetch: (input: RequestInfo | URL, init?: RequestInit) => SELF.fetch(input, init),
      maxRetries: 2,
    });
    await emulator.fault({ route: "turn_keys.create", loseReply: true });
    // The SDK's `idempotencyKey` option sends no header (its idempotencyHeader is unset), so pass the header.
    const key = await client.calls.turn.create(
      { account_id: ACCOUNT_ID, name: "sdk" },
      { headers: { "Idempotency-Key": "sdk-order-1" } },
    );
    expect(key.uid).toMatch(/^[0-9a-f]{32}$/);
    expect((await emulator.state()).keys.map((k) => k.uid)).toEqual([key.uid]);
  }, 20_000); // the SDK waits out the 503's Retry-After (5 s) before its retry
});

describe("custody of a fresh key's secret", () => {
  it("deletes the upstream key again and answers 503 when the secret cannot be stored", async () => {
    // The account object runs the create, so its KV namespace is the one whose writes of sealed secrets fail.
    const res = await withAccountEnv({ TURNVEND_KV: failingPuts(env.TURNVEND_KV, "secret:") }, () =>
      call(KEYS_PATH, { method: "POST", body: { name: "doomed" } }),
    );
    expect(res.status).toBe(503);
    const body = await envelope(res);
    expect(body.errors[0].code).toBe(10034);
    expect(JSON.stringify(body)).not.toMatch(/[0-9a-f]{64}/);
    const calls = await emulator.calls();
    expect(calls["turn_keys.create"]).toBe(1);
    expect(calls["turn_keys.delete"]).toBe(1);
    expect((await emulator.state()).keys).toHaveLength(0);
  });
});
