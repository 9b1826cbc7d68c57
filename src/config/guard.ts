// The settings of the bill's guard (README, "Protecting the bill"): budgets, alert thresholds, the leak
// action, the analytics token and the alert webhook. Each problem names its setting, never a value.
import { BYTES_PER_GB } from "../constants";

export interface GuardSettings {
  /** CLOUDFLARE_ANALYTICS_TOKEN, or the account token when unset. */
  analyticsToken: string;
  /** EGRESS_BUDGET_USER_GB_PER_DAY in bytes; null = no per-user budget. */
  userBudgetBytesPerDay: number | null;
  /** EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH in bytes; null = no account budget. */
  accountBudgetBytesPerMonth: number | null;
  /** EGRESS_ALERT_THRESHOLDS: percentages of the account budget, ascending, each alerting once a month. */
  alertThresholds: number[];
  /** LEAK_ACTION: a suspected leak only alerts, or also revokes and blocks the user. */
  leakAction: "alert" | "revoke";
  /** ALERT_WEBHOOK_URL and ALERT_WEBHOOK_SECRET; undefined when no webhook is set (alerts are logged only). */
  webhook: { url: string; secret: string } | undefined;
}

export const DEFAULT_ALERT_THRESHOLDS = [50, 80, 100];
/** The webhook secret signs every alert: shorter than the HMAC's own hash is guessable offline. */
const WEBHOOK_SECRET_MIN_BYTES = 32;

/** Optional secrets: not declared in wrangler.toml, so not in Env's generated type. */
export type OptionalSecret = "CLOUDFLARE_ANALYTICS_TOKEN" | "ALERT_WEBHOOK_SECRET";

export function guardSettings(
  setting: (name: keyof Env | OptionalSecret) => string,
  apiToken: string,
  local: boolean,
  isLoopback: (url: string) => boolean,
  hasQueue: boolean,
  problems: string[],
): GuardSettings {
  const gb = (name: keyof Env | OptionalSecret): number | null => {
    const raw = setting(name);
    if (!raw) return null;
    const n = Number(raw);
    // Plain decimals only: Number() would also read "0x10" as 16.
    if (!/^(\d+\.?\d*|\.\d+)$/.test(raw.trim()) || n <= 0 || n > 1e9) {
      problems.push(`${String(name)} must be a positive number of GB (decimals allowed), or unset for none`);
      return null;
    }
    return Math.round(n * BYTES_PER_GB);
  };

  let alertThresholds = DEFAULT_ALERT_THRESHOLDS;
  const thresholdsRaw = setting("EGRESS_ALERT_THRESHOLDS");
  if (thresholdsRaw) {
    const parts = thresholdsRaw.split(",").map((p) => p.trim());
    const values = parts.map(Number);
    // Digits only, as every integer setting (src/config/index.ts): Number() would also read "0x32" as 50.
    if (parts.some((p) => !/^\d+$/.test(p)) || values.some((v) => v < 1 || v > 1000)) {
      problems.push("EGRESS_ALERT_THRESHOLDS must be comma-separated whole percentages in [1, 1000], e.g. 50,80,100");
    } else {
      alertThresholds = [...new Set(values)].sort((a, b) => a - b);
    }
  }

  const leakRaw = setting("LEAK_ACTION") || "alert";
  if (leakRaw !== "alert" && leakRaw !== "revoke") problems.push('LEAK_ACTION must be "alert" or "revoke"');
  const leakAction = leakRaw === "revoke" ? "revoke" : "alert";

  let webhook: GuardSettings["webhook"];
  const url = setting("ALERT_WEBHOOK_URL");
  const secret = setting("ALERT_WEBHOOK_SECRET");
  if (url) {
    try {
      const parsed = new URL(url);
      // Plain http only to loopback in local development (upstreams local too): the emulator's sink. A deployed
      // Worker reaches no loopback, so such a URL there is a mistake that would lose every alert.
      if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && isLoopback(url) && local)) {
        problems.push("ALERT_WEBHOOK_URL must be an https URL (http only to loopback in local development)");
      }
    } catch {
      problems.push("ALERT_WEBHOOK_URL is not a URL");
    }
    if (!secret) problems.push("ALERT_WEBHOOK_SECRET is missing (needed to sign alerts to ALERT_WEBHOOK_URL)");
    else if (new TextEncoder().encode(secret).byteLength < WEBHOOK_SECRET_MIN_BYTES && !local) {
      problems.push(`ALERT_WEBHOOK_SECRET must be at least ${WEBHOOK_SECRET_MIN_BYTES} bytes`);
    }
    if (!hasQueue) problems.push("the ALERTS queue binding is missing (needed to deliver alerts to ALERT_WEBHOOK_URL)");
    webhook = { url, secret };
  }

  return {
    analyticsToken: setting("CLOUDFLARE_ANALYTICS_TOKEN") || apiToken,
    userBudgetBytesPerDay: gb("EGRESS_BUDGET_USER_GB_PER_DAY"),
    accountBudgetBytesPerMonth: gb("EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH"),
    alertThresholds,
    leakAction,
    webhook,
  };
}
