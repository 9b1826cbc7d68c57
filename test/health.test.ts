// GET /healthz and fail-closed configuration: no auth, no upstream call, and a 503 naming what is missing,
// on /healthz and on every admin route. A deployed Worker never runs on the published dev defaults.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, envelope, KEYS_PATH, ORIGIN } from "./support/api";
import { emulator } from "./support/emulator";
import { CALLERS, SECRET_VALUES } from "./support/fixtures";
import { captureConsole } from "./support/logs";
import { resetWorld } from "./support/reset";

type Errors = { code: number; message: string }[];

beforeEach(async () => {
  await resetWorld();
});

/**
 * Calls the Worker's own entry point with a modified environment. A fresh env object each time: the
 * parsed configuration is cached per env object.
 */
async function fetchWith(overrides: Record<string, unknown>, path: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(ORIGIN + path, init), { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const asAdmin = { headers: { authorization: `Bearer ${CALLERS.admin.token}` } };
const PUBLIC_DEV_TOKEN_SHA256 = "1734d503f6aa6a047c36d113cbad769f719c93784b469b771c4c3e7c63adbefd"; // sha256("dev-admin-token")
/** The published dev key-encryption key: base64 of "turnvend-local-development-key!!". */
const DEV_KEK_BASE64 = "dHVybnZlbmQtbG9jYWwtZGV2ZWxvcG1lbnQta2V5ISE=";
const OTHER_KEK_BASE64 = btoa("another-32-byte-key-for-rotation");

describe("GET /healthz", () => {
  it("answers 200 with no auth and no upstream call when the configuration is complete", async () => {
    const res = await call("/healthz", { as: "none" });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    // A fresh account object: the v4 budget's bucket is full (wrangler.toml's defaults), the breaker closed.
    expect(await envelope(res)).toEqual({
      success: true,
      errors: [],
      messages: [],
      result: {
        status: "ok",
        v4_budget: { per_5_min: 900, burst: 225, remaining: 225, write_reserve: 50, breaker_open_seconds: 0 },
        // The bill's guard: no usage read yet, vending open.
        analytics: { ok: false, as_of: null, age_seconds: null, complete: null },
        guard: { vending: "open", reason: null, kill_switch: false, lifted_until: null },
        credential_api: { mode: "cloudflare", state: "closed", consecutive_failures: 0, open_seconds: 0 },
      },
    });
    expect((await emulator.calls()).total).toBe(0);
  });

  it("ignores a caller token, good or bad", async () => {
    expect((await call("/healthz", { as: { token: "nonsense" } })).status).toBe(200);
    expect((await call("/healthz", { as: "admin" })).status).toBe(200);
  });

  it("answers 405 to other methods", async () => {
    const res = await call("/healthz", { as: "none", method: "POST", body: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
  });
});

describe("a missing or invalid setting fails closed", () => {
  let logs: ReturnType<typeof captureConsole>;
  beforeEach(() => {
    logs = captureConsole();
  });
  afterEach(() => {
    logs.restore();
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ["CALLERS empty", { CALLERS: "" }, "CALLERS"],
    ["CALLERS not JSON", { CALLERS: "{oops" }, "CALLERS"],
    [
      "CALLERS with an unknown scope",
      { CALLERS: JSON.stringify([{ id: "x", token_sha256: "a".repeat(64), scopes: ["keys:everything"] }]) },
      "CALLERS",
    ],
    ["CLOUDFLARE_API_TOKEN missing", { CLOUDFLARE_API_TOKEN: undefined }, "CLOUDFLARE_API_TOKEN"],
    ["CLOUDFLARE_ACCOUNT_ID missing", { CLOUDFLARE_ACCOUNT_ID: "" }, "CLOUDFLARE_ACCOUNT_ID"],
    ["CLOUDFLARE_ACCOUNT_ID malformed", { CLOUDFLARE_ACCOUNT_ID: "not-an-account" }, "CLOUDFLARE_ACCOUNT_ID"],
    ["KEY_ENCRYPTION_KEY missing", { KEY_ENCRYPTION_KEY: "  " }, "KEY_ENCRYPTION_KEY"],
    [
      "KEY_ENCRYPTION_KEY not <id>:<base64 of 32 bytes>",
      { KEY_ENCRYPTION_KEY: "k1:dG9vLXNob3J0" },
      "KEY_ENCRYPTION_KEY",
    ],
    ["SUBJECT_HASH_KEY missing", { SUBJECT_HASH_KEY: undefined }, "SUBJECT_HASH_KEY"],
    ["the KV binding missing", { TURNVEND_KV: undefined }, "TURNVEND_KV"],
    ["the account object's binding missing", { ACCOUNT_STATE: undefined }, "ACCOUNT_STATE"],
    [
      "CF_API_BASE_URL over plain http to a public host",
      { CF_API_BASE_URL: "http://api.example.com/client/v4" },
      "CF_API_BASE_URL",
    ],
    ["CF_API_BASE_URL not a URL", { CF_API_BASE_URL: "::::" }, "CF_API_BASE_URL"],
    [
      "ALERT_WEBHOOK_URL over plain http to a public host",
      { ALERT_WEBHOOK_URL: "http://hooks.example.com/turnvend" },
      "ALERT_WEBHOOK_URL",
    ],
    [
      "ALERT_WEBHOOK_URL over plain http to loopback while the upstreams are Cloudflare's",
      { ALERT_WEBHOOK_URL: "http://127.0.0.1:9/hook", CF_API_BASE_URL: "https://api.cloudflare.com/client/v4" },
      "ALERT_WEBHOOK_URL",
    ],
    ["ALERT_WEBHOOK_URL without its secret", { ALERT_WEBHOOK_SECRET: undefined }, "ALERT_WEBHOOK_SECRET"],
    ["ALERT_WEBHOOK_URL without the ALERTS queue", { ALERTS: undefined }, "ALERTS"],
    [
      "EGRESS_BUDGET_USER_GB_PER_DAY not a number",
      { EGRESS_BUDGET_USER_GB_PER_DAY: "lots" },
      "EGRESS_BUDGET_USER_GB_PER_DAY",
    ],
    [
      "EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH negative",
      { EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH: "-5" },
      "EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH",
    ],
    [
      "EGRESS_BUDGET_USER_GB_PER_DAY in hex",
      { EGRESS_BUDGET_USER_GB_PER_DAY: "0x10" },
      "EGRESS_BUDGET_USER_GB_PER_DAY",
    ],
    ["EGRESS_ALERT_THRESHOLDS malformed", { EGRESS_ALERT_THRESHOLDS: "50,,abc" }, "EGRESS_ALERT_THRESHOLDS"],
    ["EGRESS_ALERT_THRESHOLDS in hex", { EGRESS_ALERT_THRESHOLDS: "0x32,80" }, "EGRESS_ALERT_THRESHOLDS"],
    ["CREDENTIAL_SETS_PER_DAY in hex", { CREDENTIAL_SETS_PER_DAY: "0x64" }, "CREDENTIAL_SETS_PER_DAY"],
    ["VEND_UPSTREAM_DEADLINE_MS with an exponent", { VEND_UPSTREAM_DEADLINE_MS: "1.5e3" }, "VEND_UPSTREAM_DEADLINE_MS"],
    ["LEAK_ACTION unknown", { LEAK_ACTION: "panic" }, "LEAK_ACTION"],
  ];

  it("takes a budget written as a plain decimal, with or without digits before the point", async () => {
    for (const value of ["0.5", ".5", "5.", "1.25"]) {
      const res = await fetchWith({ EGRESS_BUDGET_USER_GB_PER_DAY: value }, "/healthz");
      expect(res.status, value).toBe(200);
    }
  });

  for (const [label, overrides, setting] of cases) {
    it(`with ${label}: /healthz answers 503 naming ${setting}, with no upstream call`, async () => {
      const res = await fetchWith(overrides, "/healthz");
      expect(res.status).toBe(503);
      const body = await envelope(res);
      expect(body.success).toBe(false);
      expect(body.result).toBeNull();
      expect(body.errors.every((e) => e.code === 10033)).toBe(true);
      expect(body.errors.map((e) => e.message).join("\n")).toContain(setting);
      expect((await emulator.calls()).total).toBe(0);
    });

    it(`with ${label}: an admin route answers 503 (code 10033) naming ${setting}, logs it, and calls nothing upstream`, async () => {
      for (const [path, init] of [
        [KEYS_PATH, asAdmin],
        [
          KEYS_PATH,
          {
            ...asAdmin,
            method: "POST",
            headers: { ...asAdmin.headers, "content-type": "application/json" },
            body: "{}",
          },
        ],
        [`${KEYS_PATH}/${"a".repeat(32)}`, asAdmin],
        [
          `/v1/keys/${"a".repeat(32)}/secret`,
          {
            ...asAdmin,
            method: "PUT",
            headers: { ...asAdmin.headers, "content-type": "application/json" },
            body: JSON.stringify({ key: "k".repeat(64) }),
          },
        ],
      ] as [string, RequestInit][]) {
        const res = await fetchWith(overrides, path, init);
        expect(res.status, path).toBe(503);
        const errors = (await envelope(res)).errors as Errors;
        expect(errors).toHaveLength(1);
        expect(errors[0].code).toBe(10033);
        expect(errors[0].message).toContain(setting);
      }
      expect((await emulator.calls()).total).toBe(0);
      expect(logs.json().some((l) => l.event === "request.failed" && l.kind === "not_configured")).toBe(true);
    });
  }

  it.each([
    ["UPSTREAM_TIMEOUT_MS", "abc"],
    ["CACHE_FRESH_SECONDS", "-5"],
    ["AUDIT_RETENTION_DAYS", "9999"],
    ["JWT_MAX_LIFETIME_SECONDS", "30"],
    ["JWT_MAX_LIFETIME_SECONDS", "2592001"],
    // Above Cloudflare's own limit of 1,200 per 5 minutes, a budget protects nothing.
    ["V4_BUDGET_PER_5_MIN", "1201"],
    ["V4_BUDGET_PER_5_MIN", "lots"],
    // The default budget's burst is 225: a reserve that large would leave reads nothing.
    ["V4_WRITE_RESERVE", "225"],
  ])("reports a bad %s instead of using a default", async (name, value) => {
    const res = await fetchWith({ [name]: value }, "/healthz");
    expect(res.status).toBe(503);
    expect(JSON.stringify(await res.json())).toContain(name);
  });

  it("every 5xx carries Retry-After", async () => {
    const res = await fetchWith({ CALLERS: "" }, KEYS_PATH, asAdmin);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("names every problem at once, so an operator fixes them in one go", async () => {
    const res = await fetchWith({ CALLERS: "", CLOUDFLARE_API_TOKEN: "", SUBJECT_HASH_KEY: "" }, "/healthz");
    const messages = ((await envelope(res)).errors as Errors).map((e) => e.message).join("\n");
    for (const name of ["CALLERS", "CLOUDFLARE_API_TOKEN", "SUBJECT_HASH_KEY"]) expect(messages).toContain(name);
  });

  it("never echoes a secret's value in the message", async () => {
    const res = await fetchWith(
      {
        CALLERS: "[" + SECRET_VALUES[0],
        CF_API_BASE_URL: "https://api.cloudflare.com/client/v4",
        CLOUDFLARE_API_TOKEN: "dev-account-token",
      },
      "/healthz",
    );
    const text = await res.text();
    expect(res.status).toBe(503);
    for (const secret of [...SECRET_VALUES, "dev-account-token"]) expect(text).not.toContain(secret);
  });
});

describe("the published dev defaults", () => {
  // The test env's webhook is the emulator's plain-http loopback sink: refused against real Cloudflare.
  const REAL_CLOUDFLARE = { CF_API_BASE_URL: "https://api.cloudflare.com/client/v4", ALERT_WEBHOOK_URL: "" };

  it.each([
    ["CLOUDFLARE_API_TOKEN", { CLOUDFLARE_API_TOKEN: "dev-account-token" }],
    ["KEY_ENCRYPTION_KEY", { KEY_ENCRYPTION_KEY: "dev:dHVybnZlbmQtbG9jYWwtZGV2ZWxvcG1lbnQta2V5ISE=" }],
    ["SUBJECT_HASH_KEY", { SUBJECT_HASH_KEY: "dev-subject-hash-key" }],
    [
      "CALLERS",
      { CALLERS: JSON.stringify([{ id: "dev", token_sha256: PUBLIC_DEV_TOKEN_SHA256, scopes: ["keys:read"] }]) },
    ],
    // Near misses an operator makes by copy and paste are the same published values.
    ["KEY_ENCRYPTION_KEY", { KEY_ENCRYPTION_KEY: `prod:${DEV_KEK_BASE64}` }],
    ["KEY_ENCRYPTION_KEY", { KEY_ENCRYPTION_KEY: `dev:${DEV_KEK_BASE64},k2:${OTHER_KEK_BASE64}` }],
    ["KEY_ENCRYPTION_KEY", { KEY_ENCRYPTION_KEY: `k2:${OTHER_KEK_BASE64},old:${DEV_KEK_BASE64.replace(/=+$/, "")}` }],
    ["SUBJECT_HASH_KEY", { SUBJECT_HASH_KEY: "dev-subject-hash-key," }],
    ["SUBJECT_HASH_KEY", { SUBJECT_HASH_KEY: '"dev-subject-hash-key"' }],
    ["SUBJECT_HASH_KEY", { SUBJECT_HASH_KEY: "SUBJECT_HASH_KEY=DEV_SUBJECT_HASH_KEY" }],
    ["CLOUDFLARE_API_TOKEN", { CLOUDFLARE_API_TOKEN: "'dev-account-token';" }],
    ["JWT_HS256_SECRET", { JWT_HS256_SECRET: "dev-jwt-secret-padded-to-thirty-two-bytes" }],
    // The self-hosted provider's local secret, even as the signing entry of a rotation.
    ["FALLBACK_TURN_SECRET", { FALLBACK_TURN_SECRET: "dev-fallback-secret,an-older-secret-of-16b" }],
    [
      "CALLERS",
      {
        CALLERS: JSON.stringify([
          { id: "ok", token_sha256: "a".repeat(64), scopes: ["keys:read"] },
          { id: "dev", token_sha256: PUBLIC_DEV_TOKEN_SHA256, scopes: ["keys:read"] },
        ]),
      },
    ],
  ])("are refused against real Cloudflare: %s = %j", async (setting, overrides) => {
    const health = await fetchWith({ ...REAL_CLOUDFLARE, ...overrides }, "/healthz");
    expect(health.status).toBe(503);
    const messages = ((await envelope(health)).errors as Errors).map((e) => e.message).join("\n");
    expect(messages).toContain(`${setting} holds the local development`);
    for (const value of Object.values(overrides)) expect(messages).not.toContain(value);

    const admin = await fetchWith({ ...REAL_CLOUDFLARE, ...overrides }, KEYS_PATH, asAdmin);
    expect(admin.status).toBe(503);
    expect(((await envelope(admin)).errors as Errors)[0].code).toBe(10033);
  });

  it("leave other secrets alone against real Cloudflare", async () => {
    const res = await fetchWith({ ...REAL_CLOUDFLARE, KEY_ENCRYPTION_KEY: `k2:${OTHER_KEK_BASE64}` }, "/healthz");
    expect(res.status).toBe(200);
  });

  it("are accepted against the loopback emulator (local development)", async () => {
    const res = await fetchWith({ CLOUDFLARE_API_TOKEN: "dev-account-token" }, "/healthz");
    expect(res.status).toBe(200);
  });

  it("the test configuration itself points at the loopback emulator, not at Cloudflare", () => {
    expect(new URL((env as unknown as { CF_API_BASE_URL: string }).CF_API_BASE_URL).hostname).toBe("127.0.0.1");
  });
});

describe("configuration problems shown without authentication", () => {
  it("name a repeated caller by position, never by its id", async () => {
    const { createExecutionContext, env } = await import("cloudflare:test");
    const worker = (await import("../src/index")).default;
    const entry = { id: "billing-service-7", token_sha256: "a".repeat(64), scopes: ["keys:read"] };
    const res = await worker.fetch(
      new Request("http://turnvend.test/healthz"),
      { ...env, CALLERS: JSON.stringify([entry, entry]) },
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(text).toContain("CALLERS is invalid: entries 0 and 1 share the id");
    expect(text).not.toContain("billing-service-7");
  });
});

describe("each caller is one identity across CALLERS and ACCESS_CALLERS", () => {
  const HASH_A = "a1".repeat(32);
  const HASH_B = "b2".repeat(32);
  const CN_A = "88bf3b6d86161464f6509f7219099e57.access";
  const CN_B = "0f3e8a1c2b9d4e5f6a7b8c9d0e1f2a3b.access";
  const ACCESS = { ACCESS_TEAM_DOMAIN: "turnvend-test.cloudflareaccess.com", ACCESS_AUD: "c3".repeat(32) };
  const caller = (id: string, token_sha256: string) => ({ id, token_sha256, scopes: ["keys:write"] });
  const accessCaller = (common_name: string, id: string) => ({ common_name, id, scopes: ["keys:reveal"] });

  it.each([
    [
      "an id in both tables",
      {
        CALLERS: [caller("ops-bot-17", HASH_A), caller("billing-9", HASH_B)],
        ACCESS_CALLERS: [accessCaller(CN_A, "ops-bot-17")],
      },
      "CALLERS entry 0 and ACCESS_CALLERS entry 0 share the id",
    ],
    [
      "an id twice in ACCESS_CALLERS",
      {
        CALLERS: [caller("billing-9", HASH_B)],
        ACCESS_CALLERS: [
          accessCaller(CN_B, "x-1"),
          accessCaller(CN_A, "ops-bot-17"),
          accessCaller(CN_B.replace("0f", "1f"), "ops-bot-17"),
        ],
      },
      "ACCESS_CALLERS is invalid: entries 1 and 2 share the id",
    ],
    [
      "one token hash in two CALLERS entries",
      { CALLERS: [caller("billing-9", HASH_B), caller("ops-bot-17", HASH_A), caller("ops-bot-18", HASH_A)] },
      "CALLERS is invalid: entries 1 and 2 share the token_sha256",
    ],
    [
      "one common_name in two ACCESS_CALLERS entries",
      {
        CALLERS: [caller("billing-9", HASH_B)],
        ACCESS_CALLERS: [accessCaller(CN_A, "ops-bot-17"), accessCaller(CN_A, "ops-bot-18")],
      },
      "ACCESS_CALLERS is invalid: entries 0 and 1 share the common_name",
    ],
  ])("refuses %s, naming the entries by table and position only", async (_label, tables, problem) => {
    const overrides: Record<string, unknown> = { CALLERS: JSON.stringify(tables.CALLERS) };
    if ("ACCESS_CALLERS" in tables)
      Object.assign(overrides, ACCESS, { ACCESS_CALLERS: JSON.stringify(tables.ACCESS_CALLERS) });
    const res = await fetchWith(overrides, "/healthz");
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(text).toContain(problem);
    for (const value of ["ops-bot-17", HASH_A, CN_A]) expect(text).not.toContain(value);
  });

  it("accepts distinct ids, token hashes and common names", async () => {
    const res = await fetchWith(
      {
        ...ACCESS,
        CALLERS: JSON.stringify([caller("billing-9", HASH_B), caller("ops-bot-17", HASH_A)]),
        ACCESS_CALLERS: JSON.stringify([accessCaller(CN_A, "ops-bot-18"), accessCaller(CN_B, "ops-bot-19")]),
      },
      "/healthz",
    );
    expect(res.status).toBe(200);
  });
});
