// The ALERTS queue's consumer (wrangler.toml): posts each alert to ALERT_WEBHOOK_URL, signed (src/crypto/
// webhook-signature.ts). A 2xx acknowledges it; anything else (an error status, a redirect, no answer in
// ALERT_DELIVERY_TIMEOUT_MS) hands it back to the queue, which retries it after `retry_delay` and, after
// `max_retries`, moves it to the dead-letter queue: Queues keeps the count, turnvend has no retry loop of its
// own. Loaded lazily by src/index.ts.
import { ALERT_DELIVERY_TIMEOUT_MS } from "../constants";
import { readConfig } from "../config";
import { SIGNATURE_HEADER, webhookSignature } from "../crypto/webhook-signature";
import { log } from "../observability/log";
import type { Alert } from "../storage/alerts";

export async function deliverAlerts(batch: MessageBatch<Alert>, env: Env): Promise<void> {
  const config = readConfig(env);
  const webhook = config.ok ? config.config.guard.webhook : undefined;
  for (const message of batch.messages) {
    if (!config.ok) {
      // A configuration problem is fixed by a deploy: retried, and after max_retries kept in the dead-letter
      // queue, not dropped.
      log("alert.delivery_failed", { id: message.body.id, reason: "not_configured", attempts: message.attempts });
      message.retry();
      continue;
    }
    if (!webhook) {
      // The webhook was unset since the alert was queued: there is nowhere to deliver it (it was logged).
      log("alert.undeliverable", { id: message.body.id, reason: "no_webhook" });
      message.ack();
      continue;
    }
    const body = JSON.stringify(message.body);
    const signature = await webhookSignature(webhook.secret, Math.floor(Date.now() / 1000), body);
    let status = 0;
    try {
      const res = await fetch(webhook.url, {
        method: "POST",
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(ALERT_DELIVERY_TIMEOUT_MS),
      });
      status = res.status;
      await res.body?.cancel();
    } catch {
      status = 0;
    }
    if (status >= 200 && status < 300) {
      message.ack();
      log("alert.delivered", { id: message.body.id, type: message.body.type, attempts: message.attempts });
    } else {
      message.retry();
      log("alert.delivery_failed", { id: message.body.id, status, attempts: message.attempts });
    }
  }
}
