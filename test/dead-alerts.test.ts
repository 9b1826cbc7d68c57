// The alerts' dead-letter queue: what the webhook's retries could not deliver is recorded (an audit event and a
// log line) by the Worker's own consumer, instead of waiting unseen for the queue to delete it.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { ALERTS_DEAD_LETTER_QUEUE } from "../src/constants";
import type { AuditEvent } from "../src/contract/responses";
import worker from "../src/index";
import type { Alert } from "../src/storage/alerts";
import { call, envelope } from "./support/api";
import { emulator } from "./support/emulator";
import { WEBHOOK_SECRET } from "./support/fixtures";
import { captureConsole } from "./support/logs";
import { resetWorld } from "./support/reset";

beforeEach(() => resetWorld());

const alert = (id: string): Alert => ({
  id,
  type: "user_blocked",
  time: "2026-12-03T10:00:00.000Z",
  data: { user: "a".repeat(64), reason: "budget" },
});

async function consume(queue: string, alerts: Alert[], over: Partial<Env> = {}) {
  const batch = createMessageBatch(
    queue,
    alerts.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, { ...env, ...over } as Env);
  return getQueueResult(batch, ctx);
}

describe("alerts the webhook never took (the dead-letter queue)", () => {
  it("become alert.undelivered audit events and log lines, and are acknowledged", async () => {
    const logs = captureConsole();
    const result = await consume(ALERTS_DEAD_LETTER_QUEUE, [alert("dead-1"), alert("dead-2")]);
    logs.restore();
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1"]);
    expect(result.retryMessages).toEqual([]);

    const page = await envelope<AuditEvent[]>(await call("/v1/audit", { as: "auditor" }));
    const dead = page.result.filter((e) => e.action === "alert.undelivered");
    expect(dead.map((e) => e.request_id).sort()).toEqual(["dead-1", "dead-2"]);
    expect(dead[0]).toMatchObject({ caller: "alerts", key_id: null, outcome: "failure:undelivered" });
    expect(dead[0].target).toBe("user_blocked 2026-12-03T10:00:00.000Z");

    const logged = logs.json().filter((l) => l.event === "alert.undelivered");
    expect(logged.map((l) => l.id).sort()).toEqual(["dead-1", "dead-2"]);
    expect(logged[0]).toMatchObject({ type: "user_blocked", reason: "budget" });
    expect(logs.raw.join("\n")).not.toContain(WEBHOOK_SECRET);
    // Recorded, not delivered: the dead-letter consumer never calls the webhook.
    expect(await emulator.webhooks()).toEqual([]);
  });

  /** One dead letter that cannot be recorded: it must be logged at once and retried, never acknowledged. */
  async function expectLoggedAndRetried(id: string, over: Partial<Env>) {
    const logs = captureConsole();
    const result = await consume(ALERTS_DEAD_LETTER_QUEUE, [alert(id)], over);
    logs.restore();
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m0"]);
    const logged = logs.json().filter((l) => l.event === "alert.undelivered");
    expect(logged.map((l) => l.id)).toEqual([id]);
  }

  it("are logged at once, and retried (not acknowledged) while KV refuses the audit write", async () => {
    const failingKv = new Proxy(env.TURNVEND_KV, {
      get: (target, prop) =>
        prop === "put" ? () => Promise.reject(new Error("injected: KV down")) : Reflect.get(target, prop),
    });
    await expectLoggedAndRetried("dead-3", { TURNVEND_KV: failingKv });
  });

  it("are logged at once, and retried while the configuration is broken", async () => {
    await expectLoggedAndRetried("dead-4", { LEAK_ACTION: "panic" } as Partial<Env>);
  });

  it("are told apart from fresh alerts by the queue's name: the alerts queue still delivers", async () => {
    const result = await consume("turnvend-alerts", [alert("fresh-1")]);
    expect(result.explicitAcks).toEqual(["m0"]);
    const delivered = await emulator.webhooks();
    expect(delivered.map((w) => JSON.parse(w.body).id)).toEqual(["fresh-1"]);
    const page = await envelope<AuditEvent[]>(await call("/v1/audit", { as: "auditor" }));
    expect(page.result.filter((e) => e.action === "alert.undelivered")).toEqual([]);
  });
});
