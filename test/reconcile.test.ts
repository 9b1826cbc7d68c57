// The scheduled reconciliation keeps KV honest about what exists upstream.
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { call, envelope, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { readIndex, secretKey } from "./support/kv";
import { resetWorld } from "./support/reset";

beforeEach(() => resetWorld());

async function runCron() {
  const logs = vi.spyOn(console, "log");
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/15 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
  const lines = logs.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
  logs.mockRestore();
  return lines.find((l) => l.event === "reconcile.completed");
}

describe("reconciliation", () => {
  it("picks up keys created elsewhere, marked as having no secret", async () => {
    const ours = (await envelope<{ uid: string }>(await call(KEYS_PATH, { method: "POST", body: { name: "ours" } })))
      .result;
    await call(KEYS_PATH); // cache now knows only our key
    const theirs = await emulator.createOutOfBand("dashboard-key");
    const summary = await runCron();
    expect(summary).toMatchObject({ keys: 2, discovered: 1, dropped: 0, without_secret: 1, orphan_secrets_deleted: 0 });
    const index = await readIndex();
    expect(index!.keys.find((k) => k.uid === theirs.uid)).toMatchObject({
      has_secret: false,
      created_by: null,
      name: "dashboard-key",
    });
    expect(index!.keys.find((k) => k.uid === ours.uid)).toMatchObject({
      has_secret: true,
      created_by: "admin",
      name: "ours",
    });
  });

  it("drops metadata of keys deleted out of band and deletes their orphaned secrets", async () => {
    const key = (await envelope<{ uid: string }>(await call(KEYS_PATH, { method: "POST", body: { name: "doomed" } })))
      .result;
    await call(KEYS_PATH);
    // Deleted out of band: the emulator forgets every key; the secret record is aged past the grace period.
    await emulator.reset();
    const sealed = await env.TURNVEND_KV.getWithMetadata(secretKey(key.uid));
    await env.TURNVEND_KV.put(secretKey(key.uid), sealed.value!, {
      metadata: { created_by: "admin", stored_at: new Date(Date.now() - 3_600_000).toISOString() },
    });
    const summary = await runCron();
    expect(summary).toMatchObject({ keys: 0, dropped: 1, orphan_secrets_deleted: 1 });
    expect(await env.TURNVEND_KV.get(secretKey(key.uid))).toBeNull();
    expect((await readIndex())!.keys).toEqual([]);
  });

  it("spares a freshly stored secret whose key the upstream list may predate", async () => {
    const key = (await envelope<{ uid: string }>(await call(KEYS_PATH, { method: "POST", body: {} }))).result;
    await emulator.reset();
    const summary = await runCron();
    expect(summary).toMatchObject({ orphan_secrets_deleted: 0 });
    expect(await env.TURNVEND_KV.get(secretKey(key.uid))).not.toBeNull();
  });

  it("costs one upstream list, and leaves KV alone when upstream fails", async () => {
    await call(KEYS_PATH, { method: "POST", body: {} });
    await call(KEYS_PATH);
    const before = await readIndex();
    await emulator.reset();
    await emulator.fault({ route: "turn_keys.list", status: 500, count: 5 });
    expect(await runCron()).toBeUndefined();
    expect(await readIndex()).toEqual(before);
    await emulator.reset();
    await runCron();
    expect((await emulator.calls())["turn_keys.list"]).toBe(1);
  });
});
