// The bill's guard: budgets, the kill switch, leak detection, signed alerts through the queue, and analytics
// outages that change nothing. Usage is injected in the emulator and read by the 5-minute cron, as deployed.
// Settings (vitest.config.ts): 200 GB per user a day, 1,000 GB for the account a month, LEAK_ACTION=revoke.
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it, vi } from "vitest";
import README from "../README.md?raw";
import type { AuditEvent } from "../src/contract/responses";
import { accountObject, withAccountEnv } from "./support/account";
import { call, envelope } from "./support/api";
import { emulator } from "./support/emulator";
import { CALLERS, WEBHOOK_SECRET } from "./support/fixtures";
import { deliveredAlerts, GB, hoursAgo, putGuard, runUsageCron, usageReport } from "./support/guard";
import { hashOf, userObject } from "./support/objects";
import { resetWorld } from "./support/reset";
import { activeVendingKey, expectError, freshSubject, vend, type Vended } from "./support/vend";
import { hmacHex } from "./support/hmac";

type Credential = { username: string; revoked: boolean; customIdentifier: string };

let key: { uid: string };
beforeEach(async () => {
  await resetWorld();
  key = await activeVendingKey();
});

async function vendFor(subject: string): Promise<Response> {
  return vend(CALLERS.issuer.token, { body: { subject, ttl: 3600, fresh: true } });
}

async function usernamesOf(res: Response): Promise<string[]> {
  expect(res.status).toBe(200);
  return ((await res.json()) as Vended).iceServers.flatMap((s) => (s.username ? [s.username] : []));
}

async function credentials(): Promise<Credential[]> {
  return ((await emulator.state()) as { credentials: Credential[] }).credentials;
}

async function auditActions(): Promise<string[]> {
  const res = await call("/v1/audit?limit=100");
  return (await envelope<AuditEvent[]>(res)).result.map((e) => e.action);
}

/** Steady usage for `subject`'s hash: `gbPerHour` in each of the hours `from` .. `to` ago. */
async function steady(subject: string, gbPerHour: number, from: number, to: number) {
  const customIdentifier = await hashOf(subject);
  const rows = [];
  for (let h = from; h <= to; h++)
    rows.push({ keyId: key.uid, customIdentifier, egressBytes: Math.round(gbPerHour * GB), at: hoursAgo(h) });
  await emulator.usage(rows);
}

/** Account egress that belongs to no user of turnvend's, now. */
const accountEgress = (gb: number) => emulator.usage({ keyId: key.uid, customIdentifier: null, egressBytes: gb * GB });

describe("a user over their daily budget", () => {
  it("is refused with 429 code 10039 and Retry-After, their credentials are revoked upstream, one audit event and one alert; others still vend", async () => {
    const alice = freshSubject("alice");
    const outstanding = await usernamesOf(await vendFor(alice));
    // 210 GB in the last 21 hours, 10 GB an hour: over 200 GB, and steady (no leak).
    await steady(alice, 10, 0, 20);
    const logs = await runUsageCron();
    expect(logs.find((l) => l.event === "usage.completed")).toMatchObject({ blocked: 1, leaks: 0 });

    const refused = await vendFor(alice);
    const body = await expectError(refused, 429, 10039);
    expect(body.errors[0].message).toContain("EGRESS_BUDGET_USER_GB_PER_DAY");
    const retryAfter = Number(refused.headers.get("retry-after"));
    // The oldest hour (20 h ago) leaves the rolling 24 hours 24 h after its start: then 200 GB is left, not over.
    expect(retryAfter).toBeGreaterThan(3 * 3600);
    expect(retryAfter).toBeLessThanOrEqual(4 * 3600);

    const upstream = await credentials();
    for (const username of outstanding) expect(upstream.find((c) => c.username === username)?.revoked).toBe(true);

    // Another user is not touched.
    expect((await vendFor(freshSubject("bob"))).status).toBe(200);

    expect((await auditActions()).filter((a) => a === "guard.user_blocked")).toHaveLength(1);
    const [alert] = await deliveredAlerts(1);
    expect(alert).toMatchObject({ type: "user_blocked", data: { user: await hashOf(alice), reason: "budget" } });
    expect(alert.data.credentials_revoked).toBe(outstanding.length);

    // Shown to the operator; and a second run decides nothing new.
    const report = await usageReport(`?subject=${alice}`);
    expect(report.blocked_users).toEqual([
      { user: await hashOf(alice), reason: "budget", since: expect.any(String), until: expect.any(String) },
    ]);
    expect(report.user?.blocked).toMatchObject({ reason: "budget" });
    expect(report.top_users[0]).toMatchObject({ user: await hashOf(alice), blocked: true });
    await runUsageCron();
    expect((await auditActions()).filter((a) => a === "guard.user_blocked")).toHaveLength(1);
  });
});

describe("an operator's clear", () => {
  it("holds against the next runs: a cleared budget block is not decided again within 24 h", async () => {
    const alice = freshSubject("alice-cleared");
    await steady(alice, 10, 0, 20);
    await runUsageCron();
    await expectError(await vendFor(alice), 429, 10039);
    await putGuard({ action: "clear_user", subject: alice });
    expect((await vendFor(alice)).status).toBe(200);
    const logs = await runUsageCron();
    expect(logs.find((l) => l.event === "usage.completed")).toMatchObject({ blocked: 0 });
    expect((await vendFor(alice)).status).toBe(200);
    expect((await usageReport()).blocked_users).toEqual([]);
    expect(await deliveredAlerts(1)).toHaveLength(1);
  });

  it("of a user who is not blocked changes nothing: their budget still blocks them at the next run", async () => {
    const carol = freshSubject("carol-not-blocked");
    const cleared = await putGuard({ action: "clear_user", subject: carol });
    expect((await envelope<{ cleared: boolean }>(cleared)).result.cleared).toBe(false);
    await steady(carol, 10, 0, 20);
    await runUsageCron();
    await expectError(await vendFor(carol), 429, 10039);
    // Its alert, awaited here so it does not land in the next test's webhook sink.
    expect((await deliveredAlerts(1))[0]).toMatchObject({ type: "user_blocked" });
  });

  it("holds against the next runs for a leak block: the same spike neither alerts nor blocks again", async () => {
    const spiky = freshSubject("erin-cleared");
    await steady(spiky, 0.1, 2, 24);
    await steady(spiky, 8, 0, 0);
    await runUsageCron();
    await expectError(await vendFor(spiky), 429, 10039);
    await putGuard({ action: "clear_user", subject: spiky });
    const logs = await runUsageCron();
    expect(logs.find((l) => l.event === "usage.completed")).toMatchObject({ blocked: 0, leaks: 0 });
    expect((await vendFor(spiky)).status).toBe(200);
    expect(await deliveredAlerts(2)).toHaveLength(2);
  });

  it("holds across the month's turn: a spike late in a month, cleared, neither alerts nor blocks again after midnight", async () => {
    const newMonth = Date.UTC(2027, 0, 1);
    vi.useFakeTimers({ toFake: ["Date"], now: newMonth - 10 * 60_000 });
    try {
      const spiky = freshSubject("erin-month");
      // The spike is in the month's last hour; the first run of the new month still judges that hour.
      await steady(spiky, 0.1, 2, 24);
      await steady(spiky, 8, 0, 0);
      const first = await runUsageCron();
      expect(first.find((l) => l.event === "usage.completed")).toMatchObject({ leaks: 1, blocked: 1 });
      vi.advanceTimersByTime(5 * 60_000);
      await putGuard({ action: "clear_user", subject: spiky });
      vi.setSystemTime(newMonth + 5 * 60_000);
      const after = await runUsageCron();
      expect(after.find((l) => l.event === "usage.completed")).toMatchObject({ leaks: 0, blocked: 0 });
      expect(after.filter((l) => l.event === "alert")).toEqual([]);
      expect((await usageReport()).blocked_users).toEqual([]);
      expect((await vendFor(spiky)).status).toBe(200);
      // The first run's two (leak_suspected, user_blocked), and no more.
      expect((await deliveredAlerts(2)).map((a) => a.type).sort()).toEqual(["leak_suspected", "user_blocked"]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("a full per-user page", () => {
  it("still enforces budgets (the page is heaviest first), skips leaks, and says so in /v1/usage and /healthz", async () => {
    const alice = freshSubject("alice-busy");
    await steady(alice, 10, 0, 20);
    // 10,000 light user hours besides: Cloudflare's page is full.
    const rows = [];
    for (let i = 0; i < 10_000; i++)
      rows.push({ keyId: key.uid, customIdentifier: i.toString(16).padStart(32, "0"), egressBytes: 1000 });
    await emulator.usage(rows);
    const logs = await runUsageCron();
    expect(logs.find((l) => l.event === "usage.completed")).toMatchObject({ complete: false, blocked: 1 });
    await expectError(await vendFor(alice), 429, 10039);
    expect((await usageReport()).analytics).toMatchObject({ ok: true, complete: false });
    const health = await envelope<{ analytics: { complete: boolean } }>(await call("/healthz", { as: "none" }));
    expect(health.result.analytics.complete).toBe(false);
    await deliveredAlerts(1);
  });
});

describe("a run's follow-up is never lost", () => {
  it("queues a threshold alert again on the next run when the queue refused it", async () => {
    await accountEgress(600);
    const failing = { sendBatch: () => Promise.reject(new Error("queue down")) };
    const logs = await runUsageCron({ ALERTS: failing });
    expect(logs.find((l) => l.event === "alert.enqueue_failed")).toBeDefined();
    await runUsageCron();
    await runUsageCron();
    expect((await deliveredAlerts(1)).map((a) => [a.type, a.data.percent])).toEqual([["threshold_crossed", 50]]);
  });

  it("pushes a block decided by a run that died before pushing it", async () => {
    const alice = freshSubject("alice-crash");
    const user = await hashOf(alice);
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    // The account object's half of a run, with the Worker gone before it carried anything out.
    await runInDurableObject(accountObject(), (instance) =>
      instance.ingestUsage({
        now: Date.now(),
        totalsFrom: hour,
        totals: [],
        usersFrom: hour - 25 * 3_600_000,
        // 11 GB an hour for 23 hours: over 200 GB, steady (no leak).
        users: Array.from({ length: 23 }, (_, i) => ({
          user,
          hour: hour - i * 3_600_000,
          egress: 11 * GB,
          ingress: 0,
        })),
        complete: true,
      }),
    );
    await steady(alice, 11, 0, 22);
    expect((await vendFor(alice)).status).toBe(200);
    await runUsageCron();
    await expectError(await vendFor(alice), 429, 10039);
    const [alert] = await deliveredAlerts(1);
    expect(alert).toMatchObject({ type: "user_blocked", data: { user } });
    expect((await auditActions()).filter((a) => a === "guard.user_blocked")).toHaveLength(1);
  });

  it("revokes again on the next run when the guard's revocation failed, and says so in audit and alert", async () => {
    const alice = freshSubject("alice-revoke");
    const outstanding = await usernamesOf(await vendFor(alice));
    await steady(alice, 10, 0, 20);
    await emulator.fault({ route: "credentials.revoke", status: 503, count: -1 });
    await runUsageCron();
    await emulator.clearFaults();
    await expectError(await vendFor(alice), 429, 10039);
    expect((await credentials()).filter((c) => outstanding.includes(c.username)).every((c) => !c.revoked)).toBe(true);
    const [alert] = await deliveredAlerts(1);
    expect(alert.data).toMatchObject({ credentials_revoked: 0, credentials_remaining: true });
    const events = (await envelope<AuditEvent[]>(await call("/v1/audit?limit=100"))).result;
    expect(events.find((e) => e.action === "guard.user_blocked")?.outcome).toMatch(/^failure:/);

    await runUsageCron();
    for (const username of outstanding)
      expect((await credentials()).find((c) => c.username === username)?.revoked).toBe(true);
    const after = (await envelope<AuditEvent[]>(await call("/v1/audit?limit=100"))).result;
    expect(after.find((e) => e.action === "guard.revoke_retried")?.outcome).toBe("success");
    // Done: a third run does nothing more.
    await runUsageCron();
    const third = (await envelope<AuditEvent[]>(await call("/v1/audit?limit=100"))).result;
    expect(third.filter((e) => e.action.startsWith("guard."))).toHaveLength(2);
  });
});

describe("a user blocked while their vend is in flight", () => {
  it("gets no credential: the vend answers 429 code 10039 and the set minted meanwhile is revoked upstream", async () => {
    const alice = freshSubject("alice");
    await steady(alice, 10, 0, 20);
    // Cloudflare answers the mint late; the guard's cron blocks alice (and revokes her ledger) meanwhile.
    await emulator.fault({ route: "credentials.generate_ice_servers", delayMs: 700, count: 1 });
    const inFlight = vendFor(alice);
    await new Promise((r) => setTimeout(r, 100));
    const logs = await runUsageCron();
    expect(logs.find((l) => l.event === "usage.completed")).toMatchObject({ blocked: 1 });

    await expectError(await inFlight, 429, 10039);
    const hash = await hashOf(alice);
    const upstream = (await credentials()).filter((c) => c.customIdentifier === hash);
    expect(upstream.length).toBeGreaterThan(0);
    for (const c of upstream) expect(c.revoked).toBe(true);
  });

  it("by the object's block() directly: the same", async () => {
    const bob = freshSubject("bob");
    await emulator.fault({ route: "credentials.generate_ice_servers", delayMs: 700, count: 1 });
    const inFlight = vendFor(bob);
    await new Promise((r) => setTimeout(r, 200));
    expect(await (await userObject(bob)).block({ reason: "leak", since: Date.now(), until: null })).toBe(true);
    await expectError(await inFlight, 429, 10039);
    const hash = await hashOf(bob);
    const mine = (await credentials()).filter((c) => c.customIdentifier === hash);
    expect(mine.length).toBeGreaterThan(0);
    for (const c of mine) expect(c.revoked).toBe(true);
  });
});

describe("the account over its monthly budget", () => {
  it("alerts at each threshold once, stops vending with 503 code 10040 naming the budget, and an operator's lift reopens it", async () => {
    const user = freshSubject("carol");
    await accountEgress(600);
    await runUsageCron();
    await runUsageCron();
    expect((await deliveredAlerts(1)).map((a) => [a.type, a.data.percent])).toEqual([["threshold_crossed", 50]]);
    expect((await vendFor(user)).status).toBe(200);

    await accountEgress(300);
    await runUsageCron();
    await accountEgress(200);
    await runUsageCron();
    await runUsageCron();
    const alerts = await deliveredAlerts(3);
    expect(alerts.map((a) => a.data.percent)).toEqual([50, 80, 100]);

    const stopped = await vendFor(user);
    const body = await expectError(stopped, 503, 10040);
    expect(body.errors[0].message).toContain("EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH");
    expect(stopped.headers.get("retry-after")).toBe("300");
    expect((await usageReport()).guard).toEqual({
      vending: "stopped",
      reason: "account_budget",
      kill_switch: false,
      lifted_until: null,
    });

    // The operator lifts the stop for an hour: vends go through, the cron does not undo it.
    const lifted = await putGuard({ action: "lift", seconds: 3600 });
    expect(lifted.status).toBe(200);
    expect((await envelope<{ vending: string; lifted_until: string }>(lifted)).result).toMatchObject({
      vending: "open",
    });
    expect((await vendFor(user)).status).toBe(200);
    await runUsageCron();
    expect((await vendFor(user)).status).toBe(200);
    // Ending the lift stops vending again.
    await putGuard({ action: "lift", seconds: 0 });
    await expectError(await vendFor(user), 503, 10040);
    expect((await auditActions()).filter((a) => a === "guard.lift")).toHaveLength(2);
    const lifts = (await envelope<AuditEvent[]>(await call("/v1/audit?limit=100"))).result.filter(
      (e) => e.action === "guard.lift",
    );
    expect(lifts.map((e) => e.target).sort()).toEqual(["seconds=0", "seconds=3600"]);
  });
});

describe("the kill switch", () => {
  it("stops vending at once with 503 code 10041, is audited and alerted, and resume reopens", async () => {
    const user = freshSubject("dave");
    expect((await vendFor(user)).status).toBe(200);
    const res = await putGuard({ action: "stop" });
    expect(res.status).toBe(200);
    expect((await envelope(res)).result).toEqual({
      vending: "stopped",
      reason: "kill_switch",
      kill_switch: true,
      lifted_until: null,
    });
    const calls = (await emulator.calls())["credentials.generate_ice_servers"];
    await expectError(await vendFor(user), 503, 10041);
    // Refused before the user's object: nothing minted.
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBe(calls);
    expect((await deliveredAlerts(1))[0]).toMatchObject({ type: "kill_switch", data: { on: true, by: "admin" } });
    const health = await envelope<{ guard: { vending: string; reason: string } }>(
      await call("/healthz", { as: "none" }),
    );
    expect(health.result.guard).toMatchObject({ vending: "stopped", reason: "kill_switch" });

    await putGuard({ action: "resume" });
    expect((await vendFor(user)).status).toBe(200);
    expect(await auditActions()).toEqual(expect.arrayContaining(["guard.stop", "guard.resume"]));
  });

  it("needs guard:write and a valid action", async () => {
    await expectError(await putGuard({ action: "stop" }, "reader"), 403, 10011);
    await expectError(await putGuard({ action: "explode" }), 400, 10001);
    await expectError(await putGuard({ action: "lift", seconds: -1 }), 400, 10001);
    await expectError(await putGuard({ action: "clear_user" }), 400, 10001);
    expect((await call("/v1/guard", { method: "GET" })).status).toBe(405);
  });
});

describe("leak detection", () => {
  it("flags a spike far above the user's own normal, revokes and blocks them until an operator clears them", async () => {
    const spiky = freshSubject("erin");
    await usernamesOf(await vendFor(spiky));
    await steady(spiky, 0.1, 2, 24);
    await steady(spiky, 8, 0, 0);
    await runUsageCron();

    const [alert] = (await deliveredAlerts(2)).filter((a) => a.type === "leak_suspected");
    expect(alert).toMatchObject({ data: { user: await hashOf(spiky), egress_bytes_hour: 8 * GB, action: "revoke" } });
    const refused = await vendFor(spiky);
    await expectError(refused, 429, 10039);
    expect(refused.headers.get("retry-after")).toBe("3600");
    expect((await usageReport()).blocked_users).toMatchObject([
      { user: await hashOf(spiky), reason: "leak", until: null },
    ]);
    const spikyHash = await hashOf(spiky);
    const minted = (await credentials()).filter((c) => c.customIdentifier === spikyHash);
    expect(minted.length).toBeGreaterThan(0);
    expect(minted.every((c) => c.revoked)).toBe(true);

    // Later runs keep the block, and so does the user's object restarting: only an operator lifts it.
    await runUsageCron();
    await evictDurableObject(await userObject(spiky));
    await expectError(await vendFor(spiky), 429, 10039);
    const cleared = await putGuard({ action: "clear_user", subject: spiky });
    expect((await envelope<{ cleared: boolean }>(cleared)).result.cleared).toBe(true);
    expect((await vendFor(spiky)).status).toBe(200);
    expect((await usageReport()).blocked_users).toEqual([]);
    // Nothing of the block is left in the user's object.
    const tables = await runInDurableObject(await userObject(spiky), (_i, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'guard_block'").toArray(),
    );
    expect(tables).toEqual([]);
    expect(await auditActions()).toEqual(expect.arrayContaining(["guard.leak_blocked", "guard.clear_user"]));
    const events = (await envelope<AuditEvent[]>(await call("/v1/audit?limit=100"))).result;
    expect(events.find((e) => e.action === "guard.clear_user")?.target).toBe(spikyHash);
    expect(events.find((e) => e.action === "guard.leak_blocked")?.target).toBe(spikyHash);
  });

  it("with LEAK_ACTION=alert only alerts: the user keeps vending", async () => {
    const spiky = freshSubject("hal");
    await steady(spiky, 0.1, 2, 24);
    await steady(spiky, 8, 0, 0);
    const logs = await withAccountEnv({ LEAK_ACTION: "alert" }, () => runUsageCron({ LEAK_ACTION: "alert" }));
    expect(logs.find((l) => l.event === "usage.completed")).toMatchObject({ leaks: 1, blocked: 0 });
    const [alert] = await deliveredAlerts(1);
    expect(alert).toMatchObject({ type: "leak_suspected", data: { user: await hashOf(spiky), action: "alert" } });
    expect((await vendFor(spiky)).status).toBe(200);
    expect((await usageReport()).blocked_users).toEqual([]);
    // Nothing of the block is left in the user's object.
    const tables = await runInDurableObject(await userObject(spiky), (_i, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'guard_block'").toArray(),
    );
    expect(tables).toEqual([]);
    // One alert per user and hour: the next run stays quiet.
    const again = await withAccountEnv({ LEAK_ACTION: "alert" }, () => runUsageCron({ LEAK_ACTION: "alert" }));
    expect(again.find((l) => l.event === "usage.completed")).toMatchObject({ leaks: 0 });
  });

  it("does not flag a steady heavy user, nor a new user under the floor", async () => {
    const heavy = freshSubject("frank");
    await steady(heavy, 6, 0, 23);
    const fresh = freshSubject("gina");
    await steady(fresh, 3, 0, 0);
    const logs = await runUsageCron();
    expect(logs.find((l) => l.event === "usage.completed")).toMatchObject({ ok: true, leaks: 0, blocked: 0 });
    expect((await vendFor(heavy)).status).toBe(200);
    expect((await vendFor(fresh)).status).toBe(200);
  });
});

describe("alerts through the queue", () => {
  it('are signed: HMAC-SHA256 over "<t>.<body>" in Turnvend-Signature, with an id per event', async () => {
    await putGuard({ action: "stop" });
    await deliveredAlerts(1);
    const delivery = (await emulator.webhooks())[0];
    const header = delivery.headers["turnvend-signature"];
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) ?? [];
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
    expect(v1).toBe(await hmacHex(WEBHOOK_SECRET, `${t}.${delivery.body}`));
    expect(v1).not.toBe(await hmacHex("another-secret", `${t}.${delivery.body}`));
    expect(JSON.parse(delivery.body).id).toMatch(/^[0-9a-f-]{36}$/);
    expect(delivery.body).not.toContain(WEBHOOK_SECRET);
  });

  it("verify with the README's snippet, run as printed, on a real delivery; a changed body or secret does not", async () => {
    const snippet = /```js\n(import \{ createHmac, timingSafeEqual \} from "node:crypto";\n[\s\S]*?)```/.exec(
      README,
    )?.[1];
    expect(snippet).toBeDefined();
    const body = (snippet ?? "")
      .replace(/^import .*\n/, "")
      .replace("export function verify", "return function verify");
    // The snippet's Node modules, as workerd's nodejs_compat provides them (named by a string: the Worker's own
    // types have no Node declarations).
    const nodeModule = (name: string): Promise<Record<string, unknown>> => import(/* @vite-ignore */ name);
    const { createHmac, timingSafeEqual } = await nodeModule("node:crypto");
    const { Buffer } = await nodeModule("node:buffer");
    const verify = new Function("createHmac", "timingSafeEqual", "Buffer", body)(
      createHmac,
      timingSafeEqual,
      Buffer,
    ) as (rawBody: string, header: string, secret: string) => boolean;
    await putGuard({ action: "stop" });
    await deliveredAlerts(1);
    const delivery = (await emulator.webhooks())[0];
    const header = delivery.headers["turnvend-signature"];
    expect(verify(delivery.body, header, WEBHOOK_SECRET)).toBe(true);
    expect(verify(delivery.body.replace('"on":true', '"on":false'), header, WEBHOOK_SECRET)).toBe(false);
    expect(verify(delivery.body, header, `${WEBHOOK_SECRET}x`)).toBe(false);
  });

  it("are queued in sends the queue takes (at most 100 messages each): a run with 102 alerts delivers them all", async () => {
    // 101 users past the leak floor at once, and so the account past 50 % of its budget: 102 alerts in one run.
    const rows = [];
    for (let i = 0; i < 101; i++)
      rows.push({ keyId: key.uid, customIdentifier: (i + 1).toString(16).padStart(32, "a"), egressBytes: 6 * GB });
    await emulator.usage(rows);
    const logs = await withAccountEnv({ LEAK_ACTION: "alert" }, () => runUsageCron({ LEAK_ACTION: "alert" }));
    expect(logs.find((l) => l.event === "usage.completed")).toMatchObject({ ok: true, leaks: 101, thresholds: 1 });
    const delivered = await deliveredAlerts(102);
    expect(new Set(delivered.map((a) => a.id)).size).toBe(102);
  });

  it("are retried, not dropped, while the configuration is broken", async () => {
    const { deliverAlerts } = await import("../src/jobs/deliver-alerts");
    const message = {
      body: { id: "a-1", type: "kill_switch", time: "", data: {} },
      attempts: 1,
      ack: vi.fn(),
      retry: vi.fn(),
    };
    await deliverAlerts({ messages: [message] } as unknown as MessageBatch<never>, {} as Env);
    expect(message.retry).toHaveBeenCalledOnce();
    expect(message.ack).not.toHaveBeenCalled();
  });

  it("are retried when the receiver fails, and the event is not lost", async () => {
    await emulator.failWebhooks(2);
    await putGuard({ action: "stop" });
    const [accepted] = await deliveredAlerts(1);
    const attempts = (await emulator.webhooks()).filter((w) => JSON.parse(w.body).id === accepted.id);
    expect(attempts.map((a) => a.answered)).toEqual([500, 500, 200]);
  });
});

describe("when analytics fails", () => {
  for (const [label, fault] of [
    ["errors inside a 200", { route: "graphql", graphqlErrors: true, message: "query cost exceeded", count: -1 }],
    ["a 5xx", { route: "graphql", status: 503, count: -1 }],
    ["no answer", { route: "graphql", hang: true, count: -1 }],
  ] as const) {
    it(`with ${label}: the guard keeps its last state, and vending is never blocked by the outage alone`, async () => {
      const alice = freshSubject("alice");
      await steady(alice, 10, 0, 20);
      await runUsageCron();
      await expectError(await vendFor(alice), 429, 10039);
      const before = await usageReport();

      await emulator.fault(fault);
      const logs = await runUsageCron();
      expect(logs.find((l) => l.event === "usage.failed")).toBeDefined();
      await emulator.clearFaults();

      const after = await usageReport();
      expect(after.analytics.ok).toBe(false);
      expect(after.analytics.last_error).toEqual(expect.any(String));
      if (label === "errors inside a 200") expect(after.analytics.last_error).toContain("query cost exceeded");
      expect(after.as_of).toBe(before.as_of);
      expect(after.month).toEqual(before.month);
      expect(after.blocked_users).toEqual(before.blocked_users);
      expect(after.guard.vending).toBe("open");
      // The blocked user stays blocked; everyone else vends.
      await expectError(await vendFor(alice), 429, 10039);
      expect((await vendFor(freshSubject("bob"))).status).toBe(200);
      const health = await envelope<{ analytics: { ok: boolean } }>(await call("/healthz", { as: "none" }));
      expect(health.result.analytics).toBeDefined();
    });
  }
});

describe("an analytics failure's last_error", () => {
  it("names the analytics token when Cloudflare refuses it, and never speaks of a TURN key", async () => {
    for (const status of [401, 403]) {
      await emulator.fault({ route: "graphql", status });
      await runUsageCron();
      const { last_error } = (await usageReport()).analytics;
      expect(last_error).toContain("CLOUDFLARE_ANALYTICS_TOKEN");
      expect(last_error).toContain("Account Analytics Read");
    }
    await emulator.fault({ route: "graphql", status: 404 });
    await runUsageCron();
    const { last_error } = (await usageReport()).analytics;
    expect(last_error).toContain("analytics");
    expect(last_error).not.toContain("TURN key");
  });
});

// The binding itself is exercised above; this keeps the test honest that the queue is the deployed one.
it("delivers through the ALERTS queue binding of wrangler.toml", () => {
  expect(env.ALERTS).toBeDefined();
});
