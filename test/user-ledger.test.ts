// Each user's own Durable Object (src/objects/user-ledger.ts) against real local Durable Objects: the quota,
// exact at its boundary and under concurrency; what a vend costs in SQLite rows; an object that cannot be
// reached; credentials recorded by earlier versions in KV; pruning by alarm.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { USER_OBJECT_GRACE_MS } from "../src/constants";
import type { AuditEvent } from "../src/contract/responses";
import { call, envelope } from "./support/api";
import { emulator } from "./support/emulator";
import { CALLERS, TURN_SECRET } from "./support/fixtures";
import { hashOf, storedSets, stuckObjects, unreachableObjects, userObject } from "./support/objects";
import { resetWorld } from "./support/reset";
import {
  activeVendingKey,
  expectError,
  fetchWith,
  freshSubject,
  indexShards,
  REVOKE_PATH,
  VEND_PATH,
  type Vended,
} from "./support/vend";

beforeEach(async () => {
  await resetWorld();
});
afterEach(() => {
  vi.useRealTimers();
});

const DAY_MS = 86_400_000;
const GENERATE = "credentials.generate_ice_servers";
type Credential = { username: string; keyId: string; revoked: boolean };

/** A vend for `subject` as the issuer caller, with settings overridden. */
function vendFor(subject: string, overrides: Partial<Record<keyof Env, unknown>> = {}, body: object = {}) {
  return fetchWith(overrides, VEND_PATH, {
    method: "POST",
    headers: { authorization: `Bearer ${CALLERS.issuer.token}`, "content-type": "application/json" },
    body: JSON.stringify({ subject, ...body }),
  });
}

const usernameOf = async (res: Response) =>
  ((await res.json()) as Vended).iceServers.find((s) => s.username)!.username!;

async function revoke(body: unknown) {
  const res = await call(REVOKE_PATH, { as: "revoker", body });
  expect(res.status).toBe(200);
  return (await envelope<{ revoked: number }>(res)).result.revoked;
}

const upstream = async () => ((await emulator.state()) as { credentials: Credential[] }).credentials;

describe("the quota: credential sets per user in a rolling 24 hours", () => {
  it("allows exactly CREDENTIAL_SETS_PER_DAY sets, then 429 with its own code, a Retry-After and an audit event", async () => {
    await activeVendingKey();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const subject = freshSubject("quota");
    const quota = { CREDENTIAL_SETS_PER_DAY: "3" };
    const first = Date.now();
    for (let i = 0; i < 3; i++) {
      expect((await vendFor(subject, quota, { fresh: true })).status).toBe(200);
      vi.advanceTimersByTime(60_000);
    }
    const refused = await vendFor(subject, quota, { fresh: true });
    const body = await expectError(refused, 429, 10028);
    expect(body.errors[0].message).toContain("24 hours");
    expect(refused.headers.get("cache-control")).toBe("no-store");
    // Retry-After: when the oldest set in the window leaves it, 24 hours after it was issued.
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBe(Math.ceil((first + DAY_MS - Date.now()) / 1000));
    // No upstream call for the refusal.
    expect((await emulator.calls())[GENERATE]).toBe(3);

    // The audit trail has it: who asked, what, how it ended; no subject, no subject hash.
    const audit = await call("/v1/audit?limit=5", { as: "auditor" });
    const events = (await envelope<AuditEvent[]>(audit)).result;
    expect(events[0]).toMatchObject({
      caller: "issuer",
      action: "credentials.quota_exceeded",
      key_id: null,
      outcome: "failure:429 quota_exceeded",
      request_id: refused.headers.get("x-request-id"),
    });
    expect(JSON.stringify(events)).not.toContain(subject);
    expect(JSON.stringify(events)).not.toContain(await hashOf(subject));

    // One second before Retry-After: still refused; at it: allowed again.
    vi.advanceTimersByTime((retryAfter - 1) * 1000);
    await expectError(await vendFor(subject, quota, { fresh: true }), 429, 10028);
    vi.advanceTimersByTime(1000);
    expect((await vendFor(subject, quota, { fresh: true })).status).toBe(200);
    expect((await emulator.calls())[GENERATE]).toBe(4);
  });

  it("after the quota is lowered, Retry-After says when the window holds fewer sets than the new quota, not when the oldest leaves", async () => {
    await activeVendingKey();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const subject = freshSubject("lowered");
    const first = Date.now();
    for (let i = 0; i < 3; i++) {
      expect((await vendFor(subject, { CREDENTIAL_SETS_PER_DAY: "3" }, { fresh: true })).status).toBe(200);
      vi.advanceTimersByTime(60_000);
    }
    const lowered = { CREDENTIAL_SETS_PER_DAY: "1" };
    const refused = await vendFor(subject, lowered, { fresh: true });
    await expectError(refused, 429, 10028);
    // Under a quota of 1, a set can be had again once the newest of the three leaves the window.
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBe(Math.ceil((first + 120_000 + DAY_MS - Date.now()) / 1000));
    vi.advanceTimersByTime((retryAfter - 1) * 1000);
    await expectError(await vendFor(subject, lowered, { fresh: true }), 429, 10028);
    vi.advanceTimersByTime(1000);
    expect((await vendFor(subject, lowered, { fresh: true })).status).toBe(200);
  });

  it("counts sets, not requests: a set handed out again within the reuse window takes no place", async () => {
    await activeVendingKey();
    const subject = freshSubject("quota");
    const settings = { CREDENTIAL_SETS_PER_DAY: "1", CREDENTIAL_REUSE_SECONDS: "300" };
    const first = await usernameOf(await vendFor(subject, settings, { ttl: 600 }));
    for (let i = 0; i < 3; i++) expect(await usernameOf(await vendFor(subject, settings, { ttl: 600 }))).toBe(first);
    await expectError(await vendFor(subject, settings, { ttl: 600, fresh: true }), 429, 10028);
    // Revoked sets still count: they were issued.
    expect(await revoke({ subject })).toBe(1);
    await expectError(await vendFor(subject, settings, { ttl: 600 }), 429, 10028);
    expect((await emulator.calls())[GENERATE]).toBe(1);
  });

  it("holds exactly under concurrent vends of one user: N at once over a quota of N-2 give N-2 sets", async () => {
    await activeVendingKey();
    const subject = freshSubject("burst");
    const n = 10;
    const answers = await Promise.all(
      Array.from({ length: n }, () => vendFor(subject, { CREDENTIAL_SETS_PER_DAY: String(n - 2) }, { fresh: true })),
    );
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(n - 2).fill(200), 429, 429]);
    for (const r of answers.filter((a) => a.status === 429)) {
      expect((await envelope(r)).errors[0].code).toBe(10028);
    }
    expect((await emulator.calls())[GENERATE]).toBe(n - 2);
    expect((await storedSets(subject)).length).toBe(n - 2);
  });

  it("is off at 0, and refuses a value it cannot hold", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    for (let i = 0; i < 3; i++) expect((await vendFor(subject, { CREDENTIAL_SETS_PER_DAY: "0" })).status).toBe(200);
    const bad = await vendFor(subject, { CREDENTIAL_SETS_PER_DAY: "-1" });
    expect(bad.status).toBe(503);
    expect(await bad.text()).toContain("CREDENTIAL_SETS_PER_DAY");
  });
});

describe("what a vend costs the user's object", () => {
  it("writes one SQLite row for a fresh set and none for a set handed out again, in one object call", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const settings = { CREDENTIAL_REUSE_SECONDS: "300" };
    const usage = async () =>
      (await envelope<Record<string, number>>(await call("/v1/dev/usage", { as: "none" }))).result;
    await vendFor(subject, settings); // the object's first write also makes its table
    const before = await usage();
    expect((await vendFor(subject, settings, { fresh: true })).status).toBe(200);
    expect((await vendFor(subject, settings)).status).toBe(200);
    const after = await usage();
    vi.restoreAllMocks();
    const vends = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === "request" && l.route === "ice_servers.vend");
    expect(vends.slice(-2).map((l) => [l.reused, l.ledger_rows_written])).toEqual([
      [false, 1],
      [true, 0],
    ]);
    // Counted by the objects themselves: one user-object call per vend, plus one username-index write
    // for the fresh set (its row, or a share of one).
    expect(after.do_requests - before.do_requests).toBe(3);
    expect(after.sql_rows_written - before.sql_rows_written).toBeLessThanOrEqual(2);
  });
});

describe("a user's object that cannot be reached", () => {
  it("answers 503 with Retry-After, never 500, and makes no upstream call", async () => {
    await activeVendingKey();
    const res = await vendFor(freshSubject(), { USER_LEDGER: unreachableObjects() });
    const body = await expectError(res, 503, 10036);
    expect(body.errors[0].message).not.toContain("injected");
    expect(res.headers.get("retry-after")).toBe("5");
    expect((await emulator.calls()).total).toBe(0);
  });

  it("answers 503 with Retry-After when it never answers, soon after the vend's deadline instead of hanging", async () => {
    await activeVendingKey();
    const deadlineMs = 300;
    const started = Date.now();
    const res = await vendFor(freshSubject(), {
      USER_LEDGER: stuckObjects(),
      VEND_UPSTREAM_DEADLINE_MS: String(deadlineMs),
    });
    const ms = Date.now() - started;
    const body = await expectError(res, 503, 10036);
    expect(body.errors[0].message).not.toContain("deadline");
    expect(res.headers.get("retry-after")).toBe("5");
    expect(ms).toBeGreaterThanOrEqual(deadlineMs + USER_OBJECT_GRACE_MS - 100);
    expect(ms).toBeLessThan(deadlineMs + USER_OBJECT_GRACE_MS + 1_000);
  });

  it("is still given its answer when the vend reaches it past its deadline (a slow token check): 200, one set", async () => {
    await activeVendingKey();
    const { readConfig } = await import("../src/config");
    const { vendDeps } = await import("../src/vend/deps");
    const { issueCredentials } = await import("../src/vend/issue");
    const config = readConfig(env);
    if (!config.ok) throw new Error(config.problems.join("; "));
    const pending: Promise<unknown>[] = [];
    const deps = vendDeps(env, config.config, (work) => pending.push(work));
    // Arrived 4 s ago: the 1.5 s deadline and the 2 s grace are both spent before the object is called.
    const issued = await issueCredentials(deps, {
      subject: freshSubject("late"),
      ttl: 600,
      issuedBy: "issuer",
      clientIp: undefined,
      allowReuse: false,
      arrivedAt: Date.now() - 4_000,
    });
    await Promise.all(pending);
    expect(issued.body.iceServers.length).toBeGreaterThan(0);
    expect((await emulator.calls())[GENERATE]).toBe(1);
  });

  it("answers 503 to a revocation too, and revokes nothing until it can be reached", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const username = await usernameOf(await vendFor(subject));
    const [shard] = indexShards();
    for (let i = 0; i < 200 && (await shard.find(username)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    for (const body of [{ subject }, { username }]) {
      const res = await fetchWith({ USER_LEDGER: unreachableObjects() }, REVOKE_PATH, {
        method: "POST",
        headers: { authorization: `Bearer ${CALLERS.revoker.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await expectError(res, 503, 10036);
      expect(res.headers.get("retry-after")).toBe("5");
    }
    expect((await emulator.calls())["credentials.revoke"]).toBe(0);
    expect(await revoke({ username })).toBe(1);
  });
});

describe("credentials recorded by earlier versions (the KV ledger)", () => {
  /** A credential minted upstream and recorded in KV exactly as turnvend did before the user objects. */
  async function issuedTheOldWay(key: { uid: string; key: string }, subject: string, ttl = 600) {
    const hash = await hashOf(subject);
    const res = await fetch(
      `${(env as unknown as { EMULATOR_URL: string }).EMULATOR_URL}/v1/turn/keys/${key.uid}/credentials/generate-ice-servers`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
        body: JSON.stringify({ ttl, customIdentifier: hash }),
      },
    );
    expect(res.status).toBe(201);
    const { iceServers } = (await res.json()) as { iceServers: { username?: string }[] };
    const username = iceServers.find((s) => s.username)!.username!;
    // src/storage/ledger.ts before this version: two records, both expiring with the credential.
    const expires_at = new Date(Date.now() + ttl * 1000).toISOString();
    await env.TURNVEND_KV.put(
      `cred:v1:${username}`,
      JSON.stringify({ subject_hash: hash, key_id: key.uid, expires_at }),
      {
        expirationTtl: ttl,
      },
    );
    await env.TURNVEND_KV.put(`credsub:v1:${hash}:${username}`, "", {
      expirationTtl: ttl,
      metadata: { key_id: key.uid, expires_at },
    });
    return username;
  }

  it("stay revocable by username, read through to KV", async () => {
    const key = await activeVendingKey();
    const username = await issuedTheOldWay(key, freshSubject("old"));
    expect(await revoke({ username })).toBe(1);
    expect((await upstream()).find((c) => c.username === username)?.revoked).toBe(true);
    expect(await env.TURNVEND_KV.get(`cred:v1:${username}`)).toBeNull();
    expect(await revoke({ username })).toBe(0);
    expect((await emulator.calls())["credentials.revoke"]).toBe(1);
  });

  it("are revoked with the user's new ones by subject, each once", async () => {
    const key = await activeVendingKey();
    const subject = freshSubject("upgraded");
    const old = [await issuedTheOldWay(key, subject), await issuedTheOldWay(key, subject)];
    const fresh = await usernameOf(await vendFor(subject));
    expect(await revoke({ subject })).toBe(3);
    const byName = new Map((await upstream()).map((c) => [c.username, c.revoked]));
    for (const u of [...old, fresh]) expect(byName.get(u)).toBe(true);
    expect((await env.TURNVEND_KV.list({ prefix: "credsub:v1:" })).keys).toEqual([]);
    expect(await revoke({ subject })).toBe(0);
    expect((await emulator.calls())["credentials.revoke"]).toBe(3);
  });
});

describe("pruning by alarm", () => {
  it("deletes a user's rows once every set has expired and left the quota window, then all its storage", async () => {
    await activeVendingKey();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const subject = freshSubject("prune");
    const issued = Date.now();
    expect((await vendFor(subject, {}, { ttl: 60 })).status).toBe(200);
    vi.advanceTimersByTime(12 * 3_600_000);
    expect((await vendFor(subject, {}, { ttl: 60, fresh: true })).status).toBe(200);
    const stub = await userObject(subject);
    const alarmAt = () => runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    // Set for a day after the first row could go, had it held only its first set (24 hours after it).
    expect(await alarmAt()).toBe(issued + 2 * DAY_MS);

    // Run early, while the row's second set still counts toward the quota: kept, and the alarm set again.
    vi.advanceTimersByTime(12 * 3_600_000 - 1_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storedSets(subject)).toHaveLength(2);
    expect(await alarmAt()).toBe(issued + 12 * 3_600_000 + 2 * DAY_MS);

    vi.advanceTimersByTime(DAY_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storedSets(subject)).toEqual([]);
    const left = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'").toArray(),
    );
    expect(left).toEqual([]);
    expect(await alarmAt()).toBeNull();
    // A user who comes back starts afresh.
    expect((await vendFor(subject)).status).toBe(200);
    expect(await storedSets(subject)).toHaveLength(1);
  });

  it("prunes the username index of entries whose credentials have all expired", async () => {
    await activeVendingKey();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const username = await usernameOf(await vendFor(freshSubject(), {}, { ttl: 60 }));
    const [shard] = indexShards();
    for (let i = 0; i < 200 && (await shard.find(username)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await shard.find(username)).toHaveLength(1);
    // Every credential any test in this file issued (some at clocks moved two days ahead) has expired by then.
    vi.advanceTimersByTime(4 * DAY_MS);
    expect(await runDurableObjectAlarm(shard)).toBe(true);
    expect(await shard.find(username)).toEqual([]);
    const rows = await runInDurableObject(shard, (_i, state) => {
      const tables = state.storage.sql
        .exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'")
        .toArray();
      return tables.length === 0 ? 0 : state.storage.sql.exec("SELECT count(*) AS n FROM entries").one().n;
    });
    expect(rows).toBe(0);
  });
});

describe("the upstream secret", () => {
  it("never reaches the user's storage", async () => {
    const key = await activeVendingKey();
    const subject = freshSubject();
    await vendFor(subject, { CREDENTIAL_REUSE_SECONDS: "300" });
    const dump = JSON.stringify(
      await runInDurableObject(await userObject(subject), (_i, state) =>
        state.storage.sql.exec("SELECT * FROM ledger_pages").toArray(),
      ),
    );
    expect(dump).not.toContain(key.key);
    expect(dump).not.toContain(TURN_SECRET);
  });
});
