// GET /v1/usage: usage injected in the emulator, read by the 5-minute cron from GraphQL, aggregated by the
// account object, answered in the agreed shape.
import { beforeEach, describe, expect, it } from "vitest";
import { call } from "./support/api";
import { emulator } from "./support/emulator";
import { GB, hoursAgo, runUsageCron, usageReport } from "./support/guard";
import { hashOf } from "./support/objects";
import { resetWorld } from "./support/reset";
import { expectError } from "./support/vend";

beforeEach(() => resetWorld());

const KEY = "0123456789abcdef0123456789abcdef";

describe("GET /v1/usage", () => {
  it("answers the shape with no data yet: nothing known, vending open", async () => {
    const report = await usageReport();
    expect(report).toMatchObject({
      as_of: null,
      age_seconds: null,
      analytics: { ok: false, last_attempt_at: null, last_success_at: null, last_error: null, complete: null },
      month: { egress_bytes: 0, ingress_bytes: 0, budget_bytes: 1000 * GB, used_percent: 0, projected_egress_bytes: 0 },
      guard: { vending: "open", reason: null, kill_switch: false, lifted_until: null },
      top_users: [],
      blocked_users: [],
    });
    expect(report.month.start).toBe(
      new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1)).toISOString(),
    );
    expect(report.user).toBeUndefined();
  });

  it("shows the cron's ingest: month totals, hourly series, top users by hash, one user with ?subject=", async () => {
    const alice = await hashOf("alice-usage");
    const bob = await hashOf("bob-usage");
    await emulator.usage([
      { keyId: KEY, customIdentifier: alice, egressBytes: 3 * GB, ingressBytes: GB, at: hoursAgo(0) },
      { keyId: KEY, customIdentifier: alice, egressBytes: 2 * GB, ingressBytes: GB },
      { keyId: KEY, customIdentifier: bob, egressBytes: 1 * GB, ingressBytes: 0 },
      // Not a user of turnvend's (no subject hash): counts for the account, not in the top users.
      { keyId: KEY, customIdentifier: null, egressBytes: 4 * GB },
    ]);
    const logs = await runUsageCron();
    expect(logs.find((l) => l.event === "usage.completed")).toMatchObject({ ok: true, complete: true });
    expect((await emulator.calls()).graphql).toBe(2);

    const report = await usageReport("?subject=alice-usage");
    expect(report.analytics.ok).toBe(true);
    expect(report.age_seconds).toBeLessThan(30);
    expect(report.month.egress_bytes).toBe(10 * GB);
    expect(report.month.ingress_bytes).toBe(2 * GB);
    expect(report.month.used_percent).toBe(1);
    expect(report.month.projected_egress_bytes).toBeGreaterThanOrEqual(10 * GB);
    const last = report.series.at(-1)!;
    expect(last).toEqual({ start: expect.any(String), egress_bytes: 10 * GB, ingress_bytes: 2 * GB });
    expect(Date.parse(last.start) % 3_600_000).toBe(0);
    expect(
      report.series.every(
        (h, i) => i === 0 || Date.parse(h.start) - Date.parse(report.series[i - 1].start) === 3_600_000,
      ),
    ).toBe(true);
    expect(report.top_users).toEqual([
      { user: alice, egress_bytes_24h: 5 * GB, egress_bytes_month: 5 * GB, blocked: false },
      { user: bob, egress_bytes_24h: 1 * GB, egress_bytes_month: 1 * GB, blocked: false },
    ]);
    expect(report.user).toEqual({
      user: alice,
      egress_bytes_24h: 5 * GB,
      egress_bytes_month: 5 * GB,
      budget_bytes_per_day: 200 * GB,
      blocked: null,
    });
    // Never the subject itself.
    expect(JSON.stringify(report)).not.toContain("alice-usage");
  });

  it("counts a run again without double counting: the hours are replaced, the month moves by what changed", async () => {
    const carol = await hashOf("carol-usage");
    await emulator.usage({ keyId: KEY, customIdentifier: carol, egressBytes: GB });
    await runUsageCron();
    await runUsageCron();
    expect((await usageReport()).top_users[0]).toMatchObject({ egress_bytes_month: GB, egress_bytes_24h: GB });
    await emulator.usage({ keyId: KEY, customIdentifier: carol, egressBytes: GB });
    await runUsageCron();
    const report = await usageReport();
    expect(report.top_users[0]).toMatchObject({ egress_bytes_month: 2 * GB, egress_bytes_24h: 2 * GB });
    expect(report.month.egress_bytes).toBe(2 * GB);
  });

  it("needs usage:read, refuses a bad subject with 400, and answers 405 to other methods", async () => {
    await expectError(await call("/v1/usage", { as: "reader" }), 403, 10011);
    await expectError(await call("/v1/usage", { as: "none" }), 401, 10010);
    await expectError(await call(`/v1/usage?subject=${"x".repeat(5000)}`), 400, 10001);
    expect((await call("/v1/usage", { method: "POST", body: {} })).status).toBe(405);
  });
});
