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

describe("GET /healthz", () => {
  it("answers 200 with no auth and no upstream call when the configuration is complete", async () => {
    const res = await call("/healthz", { as: "none" });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await envelope(res)).toEqual({ success: true, errors: [], messages: [], result: { status: "ok" } });
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
    [
      "CF_API_BASE_URL over plain http to a public host",
      { CF_API_BASE_URL: "http://api.example.com/client/v4" },
      "CF_API_BASE_URL",
    ],
    ["CF_API_BASE_URL not a URL", { CF_API_BASE_URL: "::::" }, "CF_API_BASE_URL"],
  ];

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
  ])("reports a bad %s (%s) instead of using a default", async (name, value) => {
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
  const REAL_CLOUDFLARE = { CF_API_BASE_URL: "https://api.cloudflare.com/client/v4" };

  it.each([
    ["CLOUDFLARE_API_TOKEN", { CLOUDFLARE_API_TOKEN: "dev-account-token" }],
    ["KEY_ENCRYPTION_KEY", { KEY_ENCRYPTION_KEY: "dev:dHVybnZlbmQtbG9jYWwtZGV2ZWxvcG1lbnQta2V5ISE=" }],
    ["SUBJECT_HASH_KEY", { SUBJECT_HASH_KEY: "dev-subject-hash-key" }],
    [
      "CALLERS",
      { CALLERS: JSON.stringify([{ id: "dev", token_sha256: PUBLIC_DEV_TOKEN_SHA256, scopes: ["keys:read"] }]) },
    ],
  ])("are refused against real Cloudflare: %s", async (setting, overrides) => {
    const health = await fetchWith({ ...REAL_CLOUDFLARE, ...overrides }, "/healthz");
    expect(health.status).toBe(503);
    expect(((await envelope(health)).errors as Errors).map((e) => e.message).join("\n")).toContain(setting);

    const admin = await fetchWith({ ...REAL_CLOUDFLARE, ...overrides }, KEYS_PATH, asAdmin);
    expect(admin.status).toBe(503);
    expect(((await envelope(admin)).errors as Errors)[0].code).toBe(10033);
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
    expect(text).toContain("entry 1 repeats an earlier entry");
    expect(text).not.toContain("billing-service-7");
  });
});
