// The dead-letter queue's consumer (wrangler.toml, `turnvend-alerts-dlq`): alerts ALERT_WEBHOOK_URL did not take
// in `max_retries` attempts (about an hour). Left alone there, Queues would delete them silently when the queue's
// retention ends (4 days by default); here each becomes a log line with its data at once, and an audit event,
// `alert.undelivered`, kept AUDIT_RETENTION_DAYS and read with GET /v1/audit, so an operator learns which alerts
// the receiver missed and what they said. When the audit write cannot be made (KV failing, the configuration
// broken), the message is retried: every 5 minutes, up to 100 times (wrangler.toml), about 8 hours; past that
// Queues deletes it, and its log lines remain. Loaded lazily by src/index.ts.
import { readConfig } from "../config";
import { log } from "../observability/log";
import type { Alert } from "../storage/alerts";
import { AuditLog } from "../storage/audit-log";

export async function recordUndeliveredAlerts(batch: MessageBatch<Alert>, env: Env): Promise<void> {
  const config = readConfig(env);
  for (const message of batch.messages) {
    const alert = message.body;
    // Logged first, on every attempt: the one record that stays whatever becomes of the audit write.
    log("alert.undelivered", { id: alert.id, type: alert.type, time: alert.time, ...alert.data });
    if (!config.ok) {
      // Retried until a deploy fixes the configuration (within the retries above).
      message.retry();
      continue;
    }
    try {
      await new AuditLog(env.TURNVEND_KV, config.config.auditRetentionDays).record({
        time: new Date().toISOString(),
        request_id: alert.id,
        caller: "alerts",
        action: "alert.undelivered",
        key_id: null,
        target: `${alert.type} ${alert.time}`,
        outcome: "failure:undelivered",
      });
      message.ack();
    } catch {
      // KV refused the write: the queue tries again later.
      log("audit.write_failed", { request_id: alert.id, action: "alert.undelivered" });
      message.retry();
    }
  }
}
