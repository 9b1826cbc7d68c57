// The local-development defaults `npm start` runs on. They are published on purpose, and the Worker
// refuses them unless its upstream is the loopback emulator (src/config/dev-defaults.ts), so no deploy can use them.
import { createHash } from "node:crypto";

export const DEV_ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353";
export const DEV_ACCOUNT_TOKEN = "dev-account-token";
export const DEV_CALLER_TOKEN = "dev-admin-token";
export const DEV_TURN_SECRET = "dev-turn-secret";
// The Worker's own list, so the scripts can never offer a scope the Worker would refuse.
export { SCOPES as ALL_SCOPES } from "../src/scopes.ts";
import { SCOPES as ALL_SCOPES } from "../src/scopes.ts";

/** The Worker's settings for a local stack whose emulator listens on `emulatorUrl`. */
export function devSettings({ port, emulatorUrl }) {
  return {
    CLOUDFLARE_ACCOUNT_ID: DEV_ACCOUNT_ID,
    CLOUDFLARE_API_TOKEN: DEV_ACCOUNT_TOKEN,
    CF_API_BASE_URL: `${emulatorUrl}/client/v4`,
    RTC_API_BASE_URL: `${emulatorUrl}/v1`,
    // 32 bytes of "turnvend-local-development-key!!", base64: a fixed key so local KV survives restarts.
    KEY_ENCRYPTION_KEY: "dev:" + Buffer.from("turnvend-local-development-key!!").toString("base64"),
    CALLERS: JSON.stringify([
      {
        id: "dev-admin",
        token_sha256: createHash("sha256").update(DEV_CALLER_TOKEN).digest("hex"),
        scopes: ALL_SCOPES,
      },
    ]),
    SUBJECT_HASH_KEY: "dev-subject-hash-key",
    JWT_HS256_SECRET: "dev-jwt-secret",
    JWT_ISSUER: "turnvend-dev",
    JWT_AUDIENCE: "turnvend",
    ALLOWED_ORIGINS: `http://127.0.0.1:${port},http://localhost:${port}`,
    // The bill's guard, small enough to see work with a few injected usage rows (README, "Protecting the
    // bill"): 1 GB per user a day, 50 GB for the account a month, alerts to the emulator's webhook sink.
    EGRESS_BUDGET_USER_GB_PER_DAY: "1",
    EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH: "50",
    ALERT_WEBHOOK_URL: `${emulatorUrl}/__emulator/webhook`,
    ALERT_WEBHOOK_SECRET: "dev-alert-webhook-secret",
  };
}

/** Renders settings as a dotenv file for `wrangler dev --env-file`. */
export function toDotenv(settings) {
  return (
    Object.entries(settings)
      // Single quotes: dotenv takes the value literally, so JSON survives. No value holds a quote.
      .map(([k, v]) => `${k}='${v}'`)
      .join("\n") + "\n"
  );
}
