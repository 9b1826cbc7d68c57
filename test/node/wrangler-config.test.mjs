// wrangler.toml against what the code assumes of it, read the way wrangler reads it (every environment).
import assert from "node:assert/strict";
import { test } from "node:test";
import { unstable_readConfig as readConfig } from "wrangler";
import { ALERTS_DEAD_LETTER_QUEUE } from "../../src/constants.ts";

for (const env of [undefined, "bench"]) {
  test(`the alerts' dead-letter queue is the one src/index.ts routes, and has a consumer (${env ?? "top level"})`, () => {
    const { consumers } = readConfig({ config: "wrangler.toml", env }).queues;
    const alerts = consumers.find((c) => c.queue === "turnvend-alerts");
    assert.equal(alerts?.dead_letter_queue, ALERTS_DEAD_LETTER_QUEUE);
    const dead = consumers.find((c) => c.queue === ALERTS_DEAD_LETTER_QUEUE);
    assert.ok(dead, "no consumer for the dead-letter queue");
    // Its own retries are what keep an alert whose audit write failed: never the platform's default 3 at once.
    assert.ok((dead.max_retries ?? 3) >= 50 && (dead.retry_delay ?? 0) >= 60);
  });
}
