// The emulator's GraphQL endpoint and usage rows, as turnvend's cron (and the usage page's tests) rely on them.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { emulator } from "./support/emulator";
import { ACCOUNT_ID, ACCOUNT_TOKEN } from "./support/fixtures";
import { resetWorld } from "./support/reset";

const base = () => (env as unknown as { EMULATOR_URL: string }).EMULATOR_URL;
const KEY = "0123456789abcdef0123456789abcdef";
const A = "a".repeat(32);
const B = "b".repeat(32);

const QUERY = (dims: string, extraFilter = "") => `query ($accountTag: string!, $start: Time!, $end: Time!) {
  viewer { accounts(filter: { accountTag: $accountTag }) {
    callsTurnUsageAdaptiveGroups(limit: 100, filter: { datetime_geq: $start, datetime_lt: $end ${extraFilter} }, orderBy: [sum_egressBytes_DESC]) {
      dimensions { ${dims} } sum { egressBytes ingressBytes }
    } } } }`;

interface Answer {
  data: { viewer: { accounts: { callsTurnUsageAdaptiveGroups: unknown[] }[] } } | null;
  errors: { message: string }[] | null;
}

async function ask(query: string, variables: Record<string, unknown>, token = ACCOUNT_TOKEN) {
  const res = await fetch(`${base()}/client/v4/graphql`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

const vars = (extra: Record<string, unknown> = {}) => ({
  accountTag: ACCOUNT_ID,
  start: "2026-01-01T00:00:00Z",
  end: "2027-01-01T00:00:00Z",
  ...extra,
});

beforeEach(() => resetWorld());

describe("the emulator's GraphQL endpoint", () => {
  it("sums egress and ingress by the requested dimensions, heaviest first, within the time filter", async () => {
    await emulator.usage([
      { keyId: KEY, customIdentifier: A, egressBytes: 10, ingressBytes: 1, at: "2026-06-01T10:05:00Z" },
      { keyId: KEY, customIdentifier: A, egressBytes: 20, ingressBytes: 2, at: "2026-06-01T10:55:00Z" },
      { keyId: KEY, customIdentifier: A, egressBytes: 5, at: "2026-06-01T11:00:00Z" },
      { keyId: KEY, customIdentifier: B, egressBytes: 100, at: "2026-06-01T10:30:00Z" },
      { keyId: KEY, customIdentifier: B, egressBytes: 999, at: "2025-06-01T10:30:00Z" },
    ]);
    const byUserHour = await ask(QUERY("customIdentifier datetimeHour"), vars());
    expect(byUserHour.status).toBe(200);
    expect(byUserHour.body.errors).toBeNull();
    expect(byUserHour.body.data?.viewer.accounts[0]?.callsTurnUsageAdaptiveGroups).toEqual([
      {
        dimensions: { customIdentifier: B, datetimeHour: "2026-06-01T10:00:00Z" },
        sum: { egressBytes: 100, ingressBytes: 0 },
      },
      {
        dimensions: { customIdentifier: A, datetimeHour: "2026-06-01T10:00:00Z" },
        sum: { egressBytes: 30, ingressBytes: 3 },
      },
      {
        dimensions: { customIdentifier: A, datetimeHour: "2026-06-01T11:00:00Z" },
        sum: { egressBytes: 5, ingressBytes: 0 },
      },
    ]);
    const byKey = await ask(QUERY("keyId", 'customIdentifier: "' + A + '"'), vars());
    expect(byKey.body.data?.viewer.accounts[0]?.callsTurnUsageAdaptiveGroups).toEqual([
      { dimensions: { keyId: KEY }, sum: { egressBytes: 35, ingressBytes: 3 } },
    ]);
  });

  it("attributes a minted credential's usage to its customIdentifier when rows name only the username", async () => {
    const key = await emulator.createOutOfBand("k");
    const res = await fetch(`${base()}/v1/turn/keys/${key.uid}/credentials/generate-ice-servers`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
      body: JSON.stringify({ ttl: 600, customIdentifier: A }),
    });
    const { iceServers } = (await res.json()) as { iceServers: { username?: string }[] };
    const username = iceServers.find((s) => s.username)!.username!;
    await emulator.usage({ username, egressBytes: 42 });
    const out = await ask(QUERY("customIdentifier keyId username"), vars());
    expect(out.body.data?.viewer.accounts[0]?.callsTurnUsageAdaptiveGroups).toEqual([
      { dimensions: { customIdentifier: A, keyId: key.uid, username }, sum: { egressBytes: 42, ingressBytes: 0 } },
    ]);
  });

  it("answers errors the way GraphQL does: inside a 200, or 403 for a bad token", async () => {
    const foreign = await ask(QUERY("datetimeHour"), vars({ accountTag: "f".repeat(32) }));
    expect(foreign.status).toBe(200);
    expect(foreign.body.data).toBeNull();
    expect(foreign.body.errors?.[0].message).toMatch(/not authorized/);
    expect((await ask(QUERY("datetimeHour"), vars(), "wrong-token")).status).toBe(403);
    expect((await ask(QUERY("colour"), vars())).body.errors?.[0].message).toMatch(/unknown dimension/);
    await emulator.fault({ route: "graphql", graphqlErrors: true, message: "budget exceeded" });
    expect((await ask(QUERY("datetimeHour"), vars())).body).toEqual({
      data: null,
      errors: [{ message: "budget exceeded", path: ["viewer"] }],
    });
    expect((await emulator.calls()).graphql).toBe(4);
  });

  it("refuses bad usage rows, adding none of the batch", async () => {
    for (const bad of [
      { egressBytes: 1 },
      { keyId: KEY, egressBytes: -1 },
      { keyId: KEY, egressBytes: 1, at: "yesterday" },
    ]) {
      await expect(emulator.usage([{ keyId: KEY, egressBytes: 1 }, bad as never])).rejects.toThrow(/400/);
    }
    expect(
      (await ask(QUERY("keyId"), vars({ start: "1970-01-01T00:00:00Z", end: "2100-01-01T00:00:00Z" }))).body.data
        ?.viewer.accounts[0].callsTurnUsageAdaptiveGroups,
    ).toEqual([]);
  });
});
