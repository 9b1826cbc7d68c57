// The audit trail: every admin mutation leaves an event, newest first, without secrets.
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuditLog, forgetRefusalMemory } from "../src/storage/audit-log";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { resetWorld } from "./support/reset";
import { OTHER_ACCOUNT_ID } from "./support/fixtures";
import { failingPuts } from "./support/kv";
import { ACTIVE_KEY_PATH, activeVendingKey, REVOKE_PATH } from "./support/vend";
import type { AuditEvent } from "../src/contract/responses";

beforeEach(() => resetWorld());

type Event = AuditEvent;

async function auditPage(query = "") {
  const res = await call(`/v1/audit${query}`, { as: "auditor" });
  return {
    res,
    body: (await res.json()) as { result: Event[]; result_info: { count: number; cursor: string | null } },
  };
}

describe("the audit trail", () => {
  it("records create, update, adoption and delete with caller, key and outcome, newest first", async () => {
    const created = await call(KEYS_PATH, { method: "POST", body: { name: "a" } });
    const uid = (await envelope<{ uid: string }>(created)).result.uid;
    await call(`${KEYS_PATH}/${uid}`, { method: "PUT", body: { name: "b" } });
    const other = await emulator.createOutOfBand();
    await call(`/v1/keys/${other.uid}/secret`, { method: "PUT", body: { key: other.key } });
    await call(`${KEYS_PATH}/${uid}`, { method: "DELETE" });

    const { res, body } = await auditPage();
    expect(res.status).toBe(200);
    expect(body.result.map((e) => e.action)).toEqual([
      "turn_key.delete",
      "turn_key.adopt",
      "turn_key.update",
      "turn_key.create",
    ]);
    expect(body.result[3]).toMatchObject({ caller: "admin", key_id: uid, outcome: "success" });
    expect(body.result[3].request_id).toBe(created.headers.get("x-request-id"));
    expect(body.result[1].key_id).toBe(other.uid);
    expect(JSON.stringify(body)).not.toContain(other.key);
  });

  it("records failed and refused mutations too", async () => {
    await emulator.fault({ route: "turn_keys.create", status: 500 });
    await call(KEYS_PATH, { method: "POST", body: {} });
    await call(KEYS_PATH, { method: "POST", body: {}, as: "reader" });
    const { body } = await auditPage();
    expect(body.result.map((e) => e.outcome)).toEqual(["failure:403 forbidden", "failure:502 upstream_error"]);
    expect(body.result[0].caller).toBe("reader");
  });

  it("records active-key changes and revocations", async () => {
    const key = await activeVendingKey();
    await call(REVOKE_PATH, { as: "revoker", body: { subject: "nobody" } });
    const { body } = await auditPage();
    const actions = body.result.map((e) => e.action);
    expect(actions).toContain("active_key.set");
    expect(actions).toContain("credentials.revoke");
    expect(body.result.find((e) => e.action === "active_key.set")!.key_id).toBe(key.uid);
  });

  it("records turnvend's own request id, never a client's cf-ray; a well-formed ray only as cf_ray", async () => {
    const forged = await call(KEYS_PATH, { method: "POST", body: {}, headers: { "cf-ray": "FORGED-REQUEST-ID-0001" } });
    const real = await call(KEYS_PATH, { method: "POST", body: {}, headers: { "cf-ray": "8c1d2e3f4a5b6c7d-AMS" } });
    const { body } = await auditPage();
    expect(JSON.stringify(body)).not.toContain("FORGED");
    const [second, first] = body.result;
    expect(first.request_id).toBe(forged.headers.get("x-request-id"));
    expect(first.cf_ray).toBeUndefined();
    expect(second.request_id).toBe(real.headers.get("x-request-id"));
    expect(second.request_id).not.toBe("8c1d2e3f4a5b6c7d-AMS");
    expect(second.cf_ray).toBe("8c1d2e3f4a5b6c7d-AMS");
  });

  it("records a refused path value as no key id, never the raw value", async () => {
    await call(`${KEYS_PATH}/${"z".repeat(900)}`, { method: "DELETE" });
    const { body } = await auditPage();
    expect(body.result[0]).toMatchObject({ key_id: null, outcome: "failure:400 invalid_key_id" });
  });

  it("does not record reads", async () => {
    await call(KEYS_PATH);
    expect((await auditPage()).body.result).toEqual([]);
  });

  it("pages with limit and cursor", async () => {
    for (let i = 0; i < 5; i++) await call(KEYS_PATH, { method: "POST", body: { name: `k${i}` } });
    const first = await auditPage("?limit=2");
    expect(first.body.result).toHaveLength(2);
    expect(first.body.result_info.cursor).toBeTruthy();
    const seen = [...first.body.result];
    let cursor = first.body.result_info.cursor;
    while (cursor) {
      const next = await auditPage(`?limit=2&cursor=${encodeURIComponent(cursor)}`);
      seen.push(...next.body.result);
      cursor = next.body.result_info.cursor;
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen.map((e) => e.key_id)).size).toBe(5);
  });

  it("keeps events for the configured retention", async () => {
    await call(KEYS_PATH, { method: "POST", body: {} });
    // The event is written after the answer: wait for it, never a fixed sleep.
    let listed = await env.TURNVEND_KV.list({ prefix: "audit:v1:" });
    for (let i = 0; i < 100 && listed.keys.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      listed = await env.TURNVEND_KV.list({ prefix: "audit:v1:" });
    }
    const days = (listed.keys[0].expiration! - Date.now() / 1000) / 86_400;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
  });

  it("writes each event as one JSON log line", async () => {
    const logs = vi.spyOn(console, "log");
    await call(KEYS_PATH, { method: "POST", body: {} });
    const lines = logs.mock.calls.map((c) => JSON.parse(String(c[0])));
    logs.mockRestore();
    expect(lines.filter((l) => l.event === "audit")).toHaveLength(1);
  });

  it("needs audit:read, and refuses bad paging with 400", async () => {
    expect((await call("/v1/audit", { as: "admin" })).status).toBe(200);
    expect((await call("/v1/audit", { as: "writer" })).status).toBe(403);
    expect((await call("/v1/audit", { as: "none" })).status).toBe(401);
    expect((await auditPage("?limit=0")).res.status).toBe(400);
    expect((await auditPage("?limit=1000")).res.status).toBe(400);
    expect((await auditPage("?cursor=%00%01")).res.status).toBe(400);
  });
});

describe("refused attempts in the audit trail: visible, but at most one entry per caller and action per minute", () => {
  // Fixed a second into a minute, so a burst of calls never straddles two minutes.
  const MINUTE_MS = 60_000;
  const start = (Math.floor(Date.now() / MINUTE_MS) + 1) * MINUTE_MS + 1_000;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: start });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const auditEntries = async () => (await env.TURNVEND_KV.list<Event>({ prefix: "audit:v1:" })).keys;
  const refusedPut = (as: "auditor" | "reader" | "none" = "auditor") =>
    call(ACTIVE_KEY_PATH, { method: "PUT", as, body: { key_id: "0".repeat(32) } });

  it("writes one entry for ten refused PUT /v1/active-key calls by a caller without the scope", async () => {
    for (let i = 0; i < 10; i++) expect((await refusedPut()).status).toBe(403);
    const entries = await auditEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0].metadata).toMatchObject({
      caller: "auditor",
      action: "active_key.set",
      outcome: "failure:403 forbidden",
      suppressed: 0,
    });
  });

  it("reports the refusals it left out on the caller's next refused entry, a minute later", async () => {
    for (let i = 0; i < 10; i++) await refusedPut();
    vi.advanceTimersByTime(MINUTE_MS);
    await refusedPut();
    const { body } = await auditPage();
    expect(body.result.map((e) => e.suppressed)).toEqual([9, 0]);
    expect(await auditEntries()).toHaveLength(2);
  });

  it("bounds each caller and each action on its own", async () => {
    for (let i = 0; i < 3; i++) {
      await refusedPut("auditor");
      await refusedPut("reader");
      await call(KEYS_PATH, { method: "POST", as: "auditor", body: {} });
    }
    const { body } = await auditPage();
    expect(body.result.map((e) => `${e.caller} ${e.action}`).sort()).toEqual([
      "auditor active_key.set",
      "auditor turn_key.create",
      "reader active_key.set",
    ]);
  });

  it("counts a path naming another account as a refusal", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await call(`/client/v4/accounts/${OTHER_ACCOUNT_ID}/calls/turn_keys`, { method: "POST", body: {} });
      expect(res.status).toBe(403);
    }
    const entries = await auditEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0].metadata).toMatchObject({ caller: "admin", outcome: "failure:403 account_mismatch" });
  });

  it("keeps one entry per minute when several isolates refuse the same caller: they overwrite it", async () => {
    await refusedPut();
    forgetRefusalMemory(); // as another isolate, which shares KV but not memory
    await refusedPut();
    expect(await auditEntries()).toHaveLength(1);
  });

  it("still records every success and every failure after authorization", async () => {
    await emulator.fault({ route: "turn_keys.create", status: 500, count: 3 });
    for (let i = 0; i < 3; i++) expect((await call(KEYS_PATH, { method: "POST", body: {} })).status).toBe(502);
    for (let i = 0; i < 3; i++) expect((await call(KEYS_PATH, { method: "POST", body: {} })).status).toBe(201);
    for (let i = 0; i < 3; i++) await refusedPut();
    const outcomes = (await auditPage()).body.result.map((e) => e.outcome);
    expect(outcomes.filter((o) => o === "success")).toHaveLength(3);
    expect(outcomes.filter((o) => o === "failure:502 upstream_error")).toHaveLength(3);
    expect(outcomes.filter((o) => o === "failure:403 forbidden")).toHaveLength(1);
  });

  it("counts a refusal whose write failed into the next entry's suppressed", async () => {
    const refusal = (offsetMs: number): Event => ({
      time: new Date(start + offsetMs).toISOString(),
      request_id: crypto.randomUUID(),
      caller: "auditor",
      action: "active_key.set",
      key_id: null,
      outcome: "failure:403 forbidden",
    });
    const broken = new AuditLog(failingPuts(env.TURNVEND_KV, "audit:"), 30);
    const working = new AuditLog(env.TURNVEND_KV, 30);
    await expect(broken.recordRefusal(refusal(0))).rejects.toThrow();
    await working.recordRefusal(refusal(1_000)); // same minute: counted, not written
    expect(await auditEntries()).toEqual([]);
    await working.recordRefusal(refusal(MINUTE_MS));
    const entries = await auditEntries();
    expect(entries.map((e) => e.metadata?.suppressed)).toEqual([2]);
  });

  it("writes nothing for unauthenticated requests", async () => {
    for (let i = 0; i < 5; i++) expect((await refusedPut("none")).status).toBe(401);
    expect(await auditEntries()).toEqual([]);
  });
});
