import { env, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { resetWorld } from "./support/reset";
import { CALLERS } from "./support/fixtures";
import { dumpKv } from "./support/kv";
import { hashOf, indexWithAdd, storedSets, userObject } from "./support/objects";
import {
  activeVendingKey,
  expectError,
  fetchWith,
  freshSubject,
  indexShards,
  REVOKE_PATH,
  userJwt,
  VEND_PATH,
  vend,
  type Vended,
} from "./support/vend";

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
  it("records each credential in its user's own object, by subject hash, before the answer, never the raw subject", async () => {
    const key = await activeVendingKey();
    const subject = freshSubject("carol");
    const before = Date.now();
    const username = await issue(subject, 600);

    // In the object named by the subject's keyed hash, read from its SQLite storage.
    const sets = await storedSets(subject);
    expect(sets).toHaveLength(1);
    expect(sets[0].u).toEqual([username]);
    expect(sets[0].key).toBe(key.uid);
    expect(Math.abs(sets[0].exp - (before + 600_000))).toBeLessThan(5_000);
    // The username index finds the user from the username alone.
    const hash = await hashOf(subject);
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect((await Promise.all(indexShards().map((s) => s.find(username)))).flat()).toEqual([hash]);
    // The pruning alarm deletes the row once the set has expired and left the 24-hour quota window (and a
    // day's slack has passed).
    const alarm = await runInDurableObject(await userObject(subject), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(sets[0].at + 2 * 86_400_000);

    // Nothing in KV any more, and nowhere the subject.
    expect((await dumpKv()).filter((e) => e.name.startsWith("cred"))).toEqual([]);
    for (const e of await dumpKv()) expect(JSON.stringify(e)).not.toContain("carol");
    const rows = await runInDurableObject(await userObject(subject), (_i, state) =>
      state.storage.sql.exec("SELECT * FROM ledger_pages").toArray(),
    );
    expect(JSON.stringify(rows)).not.toContain("carol");
  });
});

describe("POST /v1/credentials/revoke", () => {
  it("revokes one credential by username; revoking again is a harmless 0", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const username = await issue(subject);
    expect(await revokedCount(await revoke({ username }))).toBe(1);
    expect((await emulator.calls())["credentials.revoke"]).toBe(1);
    expect((await upstreamCredential(username)).revoked).toBe(true);
    expect((await storedSets(subject)).flatMap((s) => s.u)).toEqual([]);

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
    const subject = freshSubject();
    const username = await issue(subject);
    await emulator.fault({ route: "credentials.revoke", status: 404 });
    expect(await revokedCount(await revoke({ username }))).toBe(1);
    expect((await storedSets(subject)).flatMap((s) => s.u)).toEqual([]);
  });

  it("forgets credentials of a deleted key instead of failing every later revocation", async () => {
    const key = await activeVendingKey();
    const subject = freshSubject("erin");
    const res = await vend(CALLERS.issuer.token, { body: { subject } });
    expect(res.status).toBe(200);
    (await res.json()) as Vended;
    // Recorded before the answer: no waiting.
    expect((await storedSets(subject)).flatMap((s) => s.u)).toHaveLength(1);
    await call(`${KEYS_PATH}/${key.uid}`, { method: "DELETE" });
    expect(await revokedCount(await revoke({ subject }))).toBe(0);
    expect((await storedSets(subject)).flatMap((s) => s.u)).toHaveLength(0);
    expect(await revokedCount(await revoke({ subject }))).toBe(0);
  });

  it("keeps the credential in the ledger when upstream fails, so a retry revokes it", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const username = await issue(subject);
    await emulator.fault({ route: "credentials.revoke", status: 500, count: 3 });
    const failed = await revoke({ username });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect((await envelope(failed)).success).toBe(false);
    expect((await storedSets(subject)).flatMap((s) => s.u)).toEqual([username]);
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
  it("answers 503 with Retry-After, never a credential it could not record, and revokes what it minted", async () => {
    await activeVendingKey();
    const subject = freshSubject("dave");
    await issue(subject);
    // An injected storage failure: every write of the user's ledger is refused by SQLite itself.
    await runInDurableObject(await userObject(subject), (_i, state) => {
      state.storage.sql.exec(
        "CREATE TRIGGER refuse_update BEFORE UPDATE ON ledger_pages BEGIN SELECT RAISE(ABORT, 'injected'); END",
      );
      state.storage.sql.exec(
        "CREATE TRIGGER refuse_insert BEFORE INSERT ON ledger_pages BEGIN SELECT RAISE(ABORT, 'injected'); END",
      );
    });
    const res = await vend(CALLERS.issuer.token, { body: { subject, ttl: 600, fresh: true } });
    const body = await expectError(res, 503, 10036);
    expect(JSON.stringify(body)).not.toContain("injected");
    expect(res.headers.get("retry-after")).toBe("5");
    // Minted upstream, then withdrawn before anyone had it.
    const { credentials } = (await emulator.state()) as { credentials: Credential[] };
    expect(credentials).toHaveLength(2);
    expect(credentials[1].revoked).toBe(true);
    expect((await emulator.calls())["credentials.revoke"]).toBe(1);
    expect((await storedSets(subject)).flatMap((s) => s.u)).toEqual([credentials[0].username]);

    // With storage back, the failed vend took no place in the quota: the next set is the second of two.
    await runInDurableObject(await userObject(subject), (_i, state) => {
      state.storage.sql.exec("DROP TRIGGER refuse_update");
      state.storage.sql.exec("DROP TRIGGER refuse_insert");
    });
    const again = await fetchWith({ CREDENTIAL_SETS_PER_DAY: "2" }, VEND_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${CALLERS.issuer.token}`, "content-type": "application/json" },
      body: JSON.stringify({ subject, fresh: true }),
    });
    expect(again.status).toBe(200);
  });

  it("answers at once, then revokes a credential the username index could not record", async () => {
    await activeVendingKey();
    const subject = freshSubject("dave");
    // fetchWith waits for the work after the answer: the failed index writes and the withdrawal.
    const res = await fetchWith(
      { USERNAME_INDEX: indexWithAdd(() => Promise.reject(new Error("injected index failure"))) },
      VEND_PATH,
      {
        method: "POST",
        headers: { authorization: `Bearer ${CALLERS.issuer.token}`, "content-type": "application/json" },
        body: JSON.stringify({ subject }),
      },
    );
    expect(res.status).toBe(200);
    const username = ((await res.json()) as Vended).iceServers.find((s) => s.username)!.username!;
    expect((await upstreamCredential(username)).revoked).toBe(true);
    expect((await emulator.calls())["credentials.revoke"]).toBe(1);
    // Revoked, so gone from the ledger too: a later revoke of the subject finds nothing.
    expect((await storedSets(subject)).flatMap((s) => s.u)).toEqual([]);
    expect(await revokedCount(await revoke({ subject }))).toBe(0);
  });
});
