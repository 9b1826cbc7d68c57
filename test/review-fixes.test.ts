// Rules found in review: each must hold, and each has its own test.
import { createExecutionContext, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { CALLERS } from "./support/fixtures";
import { resetWorld } from "./support/reset";
import { activeVendingKey, REVOKE_PATH, vend, type Vended } from "./support/vend";

beforeEach(() => resetWorld());

describe("audit covers every mutation", () => {
  it("records active-key changes and revocations", async () => {
    const key = await activeVendingKey();
    await call(REVOKE_PATH, { as: "revoker", body: { subject: "nobody" } });
    const page = await envelope<{ action: string; key_id: string | null; outcome: string }[]>(
      await call("/v1/audit", { as: "auditor" }),
    );
    const actions = page.result.map((e) => e.action);
    expect(actions).toContain("active_key.set");
    expect(actions).toContain("credentials.revoke");
    expect(page.result.find((e) => e.action === "active_key.set")!.key_id).toBe(key.uid);
  });

  it("records a refused path value as no key id, never the raw value", async () => {
    await call(`${KEYS_PATH}/${"z".repeat(900)}`, { method: "DELETE" });
    const page = await envelope<{ key_id: string | null; outcome: string }[]>(
      await call("/v1/audit", { as: "auditor" }),
    );
    expect(page.result[0]).toMatchObject({ key_id: null, outcome: "failure:400 invalid_key_id" });
  });
});

describe("configuration", () => {
  it.each([
    ["UPSTREAM_TIMEOUT_MS", "abc"],
    ["CACHE_FRESH_SECONDS", "-5"],
    ["AUDIT_RETENTION_DAYS", "9999"],
  ])("reports a bad %s instead of using a default", async (name, value) => {
    const res = await worker.fetch(
      new Request("http://turnvend.test/healthz"),
      { ...env, [name]: value },
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(JSON.stringify(await res.json())).toContain(name);
  });

  it("every 5xx carries Retry-After", async () => {
    const res = await worker.fetch(
      new Request("http://turnvend.test" + KEYS_PATH, { headers: { authorization: `Bearer ${CALLERS.admin.token}` } }),
      { ...env, CALLERS: "" },
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
  });
});

describe("custody is never overwritten", () => {
  it("refuses to adopt a secret for a key whose secret turnvend already holds", async () => {
    const created = await envelope<{ uid: string; key: string }>(
      await call(KEYS_PATH, { method: "POST", body: { name: "ours" } }),
    );
    const sealedBefore = await env.TURNVEND_KV.get(`secret:v1:${created.result.uid}`);
    const res = await call(`/v1/keys/${created.result.uid}/secret`, { method: "PUT", body: { key: "f".repeat(64) } });
    expect(res.status).toBe(409);
    expect(await env.TURNVEND_KV.get(`secret:v1:${created.result.uid}`)).toBe(sealedBefore);
  });
});

describe("revocation input and dead keys", () => {
  it("refuses a username that is not visible ASCII, or a dot segment, with 400", async () => {
    for (const username of ["é".repeat(256), "..", "a b"]) {
      const res = await call(REVOKE_PATH, { as: "revoker", body: { username } });
      expect(res.status).toBe(400);
    }
    expect((await emulator.calls()).total).toBe(0);
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
    const revoke = await call(REVOKE_PATH, { as: "revoker", body: { subject: "erin" } });
    expect(revoke.status).toBe(200);
    expect((await envelope<{ revoked: number }>(revoke)).result.revoked).toBe(0);
    const list = await env.TURNVEND_KV.list({ prefix: "credsub:v1:" });
    expect(list.keys).toHaveLength(0);
  });
});
