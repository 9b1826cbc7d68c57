// Alerts of the bill's guard (README, "Protecting the bill"): logged always, and queued for ALERT_WEBHOOK_URL
// when one is set. The ALERTS queue delivers them at least once, with retries and a dead-letter queue
// (src/jobs/deliver-alerts.ts); each carries an id so a receiver can drop duplicates.
import type { GuardSettings } from "../config";
import { QUEUE_SEND_BATCH_MAX } from "../constants";
import { log } from "../observability/log";

export type AlertType = "threshold_crossed" | "user_blocked" | "leak_suspected" | "kill_switch";

export interface Alert {
  /** Unique per event, the same on every delivery attempt: receivers drop duplicates by it. */
  id: string;
  type: AlertType;
  /** RFC 3339. */
  time: string;
  data: Record<string, string | number | boolean | null>;
}

export function makeAlert(type: AlertType, data: Alert["data"]): Alert {
  return { id: crypto.randomUUID(), type, time: new Date().toISOString(), data };
}

/**
 * Logs each alert and queues it for the webhook. A failed send is logged and thrown: the cron keeps its alerts
 * in the account object's outbox and queues them again next run (same ids).
 */
export async function enqueueAlerts(queue: Queue | undefined, settings: GuardSettings, alerts: Alert[]): Promise<void> {
  if (alerts.length === 0) return;
  for (const alert of alerts) log("alert", { id: alert.id, type: alert.type, ...alert.data });
  if (!settings.webhook || !queue) return;
  try {
    // A send of more than the Queue takes fails whole: one oversized send would fail every run after it, as the
    // outbox only grows. A part sent before a failure is sent again next run, with the same ids.
    for (let i = 0; i < alerts.length; i += QUEUE_SEND_BATCH_MAX) {
      const part = alerts.slice(i, i + QUEUE_SEND_BATCH_MAX);
      await queue.sendBatch(part.map((body) => ({ body, contentType: "json" as const })));
    }
  } catch (err) {
    log("alert.enqueue_failed", { alerts: alerts.length, error: err instanceof Error ? err.name : "unknown" });
    throw err;
  }
}

/** As enqueueAlerts, for a request that has done its work already: a failed send stays a log line. */
export async function sendAlerts(queue: Queue | undefined, settings: GuardSettings, alerts: Alert[]): Promise<void> {
  await enqueueAlerts(queue, settings, alerts).catch(() => undefined);
}
