import { createHash } from "node:crypto";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";
import {
  ACCOUNT_ID,
  ACCOUNT_TOKEN,
  CALLERS,
  JWT_SECRET,
  KEY_ENCRYPTION_KEY,
  SUBJECT_HASH_KEY,
  WEBHOOK_SECRET,
} from "./test/support/fixtures.ts";

// The per-caller refresh limit as wrangler.toml declares it, so the bound test checks the deployed number.
const KEYS_REFRESH_LIMIT = Number(
  /name = "KEYS_REFRESH_LIMITER"\s+namespace_id = "\d+"\s+simple = \{ limit = (\d+)/.exec(
    readFileSync("wrangler.toml", "utf8"),
  )?.[1],
);

const callers = Object.entries(CALLERS).map(([id, c]) => ({
  id,
  token_sha256: createHash("sha256").update(c.token).digest("hex"),
  scopes: c.scopes,
}));

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const emulatorUrl = inject("emulatorUrl");
      return {
        wrangler: { configPath: "./wrangler.toml" },
        // The local-development entry (the deployed Worker plus GET /v1/dev/jwt), as `npm start` runs it.
        main: "./src/dev.ts",
        miniflare: {
          bindings: {
            EMULATOR_URL: emulatorUrl,
            CF_API_BASE_URL: `${emulatorUrl}/client/v4`,
            RTC_API_BASE_URL: `${emulatorUrl}/v1`,
            CLOUDFLARE_ACCOUNT_ID: ACCOUNT_ID,
            CLOUDFLARE_API_TOKEN: ACCOUNT_TOKEN,
            KEY_ENCRYPTION_KEY,
            SUBJECT_HASH_KEY,
            JWT_HS256_SECRET: JWT_SECRET,
            JWT_ISSUER: "turnvend-test",
            JWT_AUDIENCE: "turnvend",
            ALLOWED_ORIGINS: "https://app.example.com,http://127.0.0.1:8787",
            CALLERS: JSON.stringify(callers),
            // Short, so timeout tests finish quickly; production keeps 10 s.
            UPSTREAM_TIMEOUT_MS: "1000",
            // The bill's guard (test/guard.test.ts): budgets, the leak action that also blocks, alerts to the
            // emulator's webhook sink.
            EGRESS_BUDGET_USER_GB_PER_DAY: "200",
            EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH: "1000",
            LEAK_ACTION: "revoke",
            ALERT_WEBHOOK_URL: `${emulatorUrl}/__emulator/webhook`,
            ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET,
            // wrangler.toml's per-caller refresh limit, for test/refresh-bound.test.ts.
            KEYS_REFRESH_LIMIT: String(KEYS_REFRESH_LIMIT),
          },
          // wrangler.toml's consumer, retried at once instead of after 5 minutes, so a test sees retries.
          queueConsumers: {
            "turnvend-alerts": {
              maxBatchSize: 10,
              maxBatchTimeout: 0.2,
              maxRetries: 5,
              retryDelay: 0,
              deadLetterQueue: "turnvend-alerts-dlq",
            },
          },
          ratelimits: {
            // Every file makes many cache-bypassing reads as one caller; the bound itself is tested through
            // KEYS_REFRESH_BOUNDED, a second binding with wrangler.toml's limit (test/refresh-bound.test.ts).
            KEYS_REFRESH_LIMITER: { namespace_id: "1003", simple: { limit: 1_000_000, period: 60 } },
            KEYS_REFRESH_BOUNDED: { namespace_id: "1903", simple: { limit: KEYS_REFRESH_LIMIT, period: 60 } },
          },
        },
      };
    }),
  ],
  test: {
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    // One emulator serves every file; files run one at a time so upstream call counts stay exact.
    fileParallelism: false,
    // Every request logs a JSON line; show them only for tests that fail.
    silent: "passed-only",
    // The `cloudflare` SDK (sdk-acceptance test) is ~1,100 modules: pre-bundle it once instead of transforming
    // each module on every run. It imports fine inside workerd without this; this only saves time.
    deps: { optimizer: { ssr: { enabled: true, include: ["cloudflare"] } } },
  },
});
