import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { resetWorld } from "./support/reset";
import { CALLERS } from "./support/fixtures";
import { activeVendingKey, expectError, freshSubject, REVOKE_PATH, userJwt, vend, type Vended } from "./support/vend";
import { failingPuts } from "./support/kv";

type Credential = { username: string; keyId: string; revoked: boolean };

beforeEach(async () => {
  await resetWorld();
});

async function issue(subject: string, ttl = 600): Promise<string> {
  const res = await vend(CALLERS.issuer.token, { body: { subject, ttl } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as Vended;
  return body.iceServers.find((s) => s.username)!.username!;
}

const revoke = (body: unknown, as: "revoker" | "issuer" | "none" = "revoker") => call(REVOKE_PATH, { as, body });

async function revokedCount(res: Response): Promise<number> {
  expect(res.status).toBe(200);
  const body = await envelope<{ revoked: number }>(res);
  expect(body.success).toBe(true);
  expect(Object.keys(body.result)).toEqual(["revoked"]);
  return body.result.revoked;
}

async function upstreamCredential(username: string): Promise<Credential> {
  const { credentials } = (await emulator.state()) as { credentials: Credential[] };
  return credentials.find((c) => c.username === username)!;
}

describe("the issuance ledger", () => {
  it("records each credential by username and by subject hash, expiring with it, never the raw subject", async () => {
    const key = await activeVendingKey();
    const subject = freshSubject("carol");
    const before = Date.now();
    const username = await issue(subject, 600);

    const entry = await env.TURNVEND_KV.get<{ subject_hash: string; key_id: string; expires_at: string }>(
      `cred:v1:${username}`,
      "json",
    );
    expect(entry).not.toBeNull();
    expect(entry!.key_id).toBe(key.uid);
    expect(entry!.subject_hash).toMatch(/^[0-9a-f]{32}$/);
    expect(Math.abs(Date.parse(entry!.expires_at) - (before + 600_000))).toBeLessThan(5_000);

    const listed = await env.TURNVEND_KV.list({ prefix: `credsub:v1:${entry!.subject_hash}:` });
    expect(listed.keys.map((k) => k.name)).toEqual([`credsub:v1:${entry!.subject_hash}:${username}`]);
    expect(listed.keys[0].metadata).toEqual({ key_id: key.uid, expires_at: entry!.expires_at });
    // KV expires both records with the credential.
    const byName = await env.TURNVEND_KV.list({ prefix: `cred:v1:${username}` });
    for (const k of [...byName.keys, ...listed.keys]) {
      expect(k.expiration).toBeDefined();
      expect(Math.abs(k.expiration! * 1000 - Date.parse(entry!.expires_at))).toBeLessThan(5_000);
    }

    const all = await env.TURNVEND_KV.list();
    for (const k of all.keys) {
      expect(k.name).not.toContain("carol");
      expect(JSON.stringify(await env.TURNVEND_KV.get(k.name))).not.toContain("carol");
    }
  });
});

describe("POST /v1/credentials/revoke", () => {
  it("revokes one credential by username; revoking again is a harmless 0", async () => {
    await activeVendingKey();
    const username = await issue(freshSubject());
    expect(await revokedCount(await revoke({ username }))).toBe(1);
    expect((await emulator.calls())["credentials.revoke"]).toBe(1);
    expect((await upstreamCredential(username)).revoked).toBe(true);
    expect(await env.TURNVEND_KV.get(`cred:v1:${username}`)).toBeNull();

    expect(await revokedCount(await revoke({ username }))).toBe(0);
    expect((await emulator.calls())["credentials.revoke"]).toBe(1);
  });

  it("revokes every outstanding credential of a subject, and only that subject's", async () => {
    await activeVendingKey();
    const dave = freshSubject("dave");
    const erin = freshSubject("erin");
    const daves = [await issue(dave), await issue(dave), await issue(dave)];
    const erins = [await issue(erin)];

    expect(await revokedCount(await revoke({ subject: dave }))).toBe(3);
    expect((await emulator.calls())["credentials.revoke"]).toBe(3);
    for (const u of daves) expect((await upstreamCredential(u)).revoked).toBe(true);
    expect((await upstreamCredential(erins[0])).revoked).toBe(false);

    expect(await revokedCount(await revoke({ subject: dave }))).toBe(0);
    expect((await emulator.calls())["credentials.revoke"]).toBe(3);
    expect(await revokedCount(await revoke({ subject: erin }))).toBe(1);
  });

  it("revokes credentials an end user got with a JWT, by the JWT's sub", async () => {
    await activeVendingKey();
    const subject = freshSubject("frank");
    expect((await vend(await userJwt(subject))).status).toBe(200);
    expect(await revokedCount(await revoke({ subject }))).toBe(1);
  });

  it("answers 0 without an upstream call for an unknown username or subject", async () => {
    await activeVendingKey();
    expect(await revokedCount(await revoke({ username: "no-such-credential" }))).toBe(0);
    expect(await revokedCount(await revoke({ subject: "nobody" }))).toBe(0);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("skips credentials that have already expired", async () => {
    const key = await activeVendingKey();
    await env.TURNVEND_KV.put(
      "cred:v1:old-credential",
      JSON.stringify({
        subject_hash: "0".repeat(32),
        key_id: key.uid,
        expires_at: new Date(Date.now() - 1000).toISOString(),
      }),
      { expirationTtl: 60 },
    );
    expect(await revokedCount(await revoke({ username: "old-credential" }))).toBe(0);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("counts an upstream 404 as already revoked and forgets the credential", async () => {
    await activeVendingKey();
    const username = await issue(freshSubject());
    await emulator.fault({ route: "credentials.revoke", status: 404 });
    expect(await revokedCount(await revoke({ username }))).toBe(1);
    expect(await env.TURNVEND_KV.get(`cred:v1:${username}`)).toBeNull();
  });

  it("forgets credentials of a deleted key instead of failing every later revocation", async () => {
    const key = await activeVendingKey();
    const res = await vend(CALLERS.issuer.token, { body: { subject: "erin" } });
    expect(res.status).toBe(200);
    (await res.json()) as Vended;
    // The ledger is written after the answer: wait for it, never a fixed sleep.
    for (let i = 0; i < 100 && (await env.TURNVEND_KV.list({ prefix: "credsub:v1:" })).keys.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await env.TURNVEND_KV.list({ prefix: "credsub:v1:" })).keys).toHaveLength(1);
    await call(`${KEYS_PATH}/${key.uid}`, { method: "DELETE" });
    expect(await revokedCount(await revoke({ subject: "erin" }))).toBe(0);
    expect((await env.TURNVEND_KV.list({ prefix: "credsub:v1:" })).keys).toHaveLength(0);
  });

  it("keeps the credential in the ledger when upstream fails, so a retry revokes it", async () => {
    await activeVendingKey();
    const username = await issue(freshSubject());
    await emulator.fault({ route: "credentials.revoke", status: 500, count: 3 });
    const failed = await revoke({ username });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect((await envelope(failed)).success).toBe(false);
    expect(await env.TURNVEND_KV.get(`cred:v1:${username}`)).not.toBeNull();
    expect(await revokedCount(await revoke({ username }))).toBe(1);
    expect((await upstreamCredential(username)).revoked).toBe(true);
  });

  it("refuses bodies that name both, neither, or something else", async () => {
    await activeVendingKey();
    await expectError(await revoke({ username: "a", subject: "b" }), 400, 10001);
    await expectError(await revoke({}), 400, 10001);
    await expectError(await revoke({ user: "a" }), 400, 10003);
    await expectError(await revoke({ username: "" }), 400, 10001);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("refuses a username that is not visible ASCII, or a dot segment, with 400", async () => {
    for (const username of ["é".repeat(256), "..", "a b"]) {
      const res = await revoke({ username });
      expect(res.status).toBe(400);
    }
    expect((await emulator.calls()).total).toBe(0);
  });

  it("requires the credentials:revoke scope", async () => {
    await activeVendingKey();
    const username = await issue(freshSubject());
    await expectError(await revoke({ username }, "none"), 401, 10010);
    await expectError(await revoke({ username }, "issuer"), 403, 10011);
    expect((await emulator.calls())["credentials.revoke"]).toBe(0);
  });
});

describe("a ledger that cannot be written", () => {
  it("answers at once, then revokes the credential it could not record", async () => {
    const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
    const worker = (await import("../src/index")).default;
    await activeVendingKey();
    const failingKv = failingPuts(env.TURNVEND_KV, "cred");
    const ctx = createExecutionContext();
    const req = new Request("http://turnvend.test/v1/ice-servers", {
      method: "POST",
      headers: { authorization: `Bearer ${CALLERS.issuer.token}`, "content-type": "application/json" },
      body: JSON.stringify({ subject: freshSubject("dave") }),
    });
    const res = await worker.fetch(req, { ...env, TURNVEND_KV: failingKv }, ctx);
    expect(res.status).toBe(200);
    const username = ((await res.json()) as Vended).iceServers.find((s) => s.username)!.username!;
    await waitOnExecutionContext(ctx);
    expect((await upstreamCredential(username)).revoked).toBe(true);
    expect((await emulator.calls())["credentials.revoke"]).toBe(1);
    expect(await env.TURNVEND_KV.get(`cred:v1:${username}`)).toBeNull();
  });
});
