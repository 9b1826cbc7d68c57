import { SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { call, KEYS_PATH } from "./support/api";
import { emulator } from "./support/emulator";
import { resetWorld } from "./support/reset";
import {
  activeVendingKey,
  ACTIVE_KEY_PATH,
  expectError,
  freshSubject,
  REVOKE_PATH,
  userJwt,
  vend,
  VEND_PATH,
} from "./support/vend";

const ALLOWED = "https://app.example.com";
const ALSO_ALLOWED = "http://127.0.0.1:8787";

beforeEach(async () => {
  await resetWorld();
  await activeVendingKey();
});

const corsHeaders = (res: Response) => [...res.headers.keys()].filter((h) => h.startsWith("access-control-"));
const varyOrigin = (res: Response) =>
  (res.headers.get("vary") ?? "")
    .split(",")
    .map((v) => v.trim().toLowerCase())
    .includes("origin");

describe("CORS on POST /v1/ice-servers", () => {
  it.each([ALLOWED, ALSO_ALLOWED])("reflects the allow-listed origin %s exactly, with Vary: Origin", async (origin) => {
    const res = await vend(await userJwt(freshSubject()), { headers: { origin } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(origin);
    expect(varyOrigin(res)).toBe(true);
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("access-control-expose-headers")).toContain("retry-after");
  });

  it("answers a preflight from an allowed origin with 204 and no upstream call", async () => {
    const res = await call(VEND_PATH, {
      method: "OPTIONS",
      as: "none",
      headers: {
        origin: ALLOWED,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    const allowHeaders = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    expect(allowHeaders).toContain("authorization");
    expect(allowHeaders).toContain("content-type");
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    expect(varyOrigin(res)).toBe(true);
    expect((await emulator.calls()).total).toBe(0);
  });

  it.each([
    ["an unknown site", "https://evil.example"],
    ["a look-alike suffix", "https://app.example.com.evil.example"],
    ["the allowed host over another scheme", "http://app.example.com"],
    ["the allowed host with an explicit port", "https://app.example.com:8443"],
    ["an opaque origin", "null"],
  ])("refuses %s with 403, no CORS grant and no upstream call", async (_label, origin) => {
    const res = await vend(await userJwt(freshSubject()), { headers: { origin } });
    await expectError(res, 403, 10013);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(varyOrigin(res)).toBe(true);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("refuses a preflight from a disallowed origin", async () => {
    const res = await call(VEND_PATH, {
      method: "OPTIONS",
      as: "none",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    await expectError(res, 403, 10013);
    expect(corsHeaders(res)).toEqual([]);
  });

  it("never answers with a wildcard", async () => {
    for (const origin of [ALLOWED, "https://evil.example"]) {
      const res = await vend(await userJwt(freshSubject()), { headers: { origin } });
      expect(res.headers.get("access-control-allow-origin")).not.toBe("*");
    }
  });

  it("lets server-to-server requests without Origin through, with no CORS grant", async () => {
    const res = await vend(await userJwt(freshSubject()));
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(varyOrigin(res)).toBe(true);
  });

  it("grants CORS on error answers so browser code can read a 401", async () => {
    const res = await vend(undefined, { headers: { origin: ALLOWED } });
    await expectError(res, 401, 10010);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
  });

  it("refuses an origin that matches the Host header but is not in ALLOWED_ORIGINS, without calling upstream", async () => {
    // A non-browser client controls Host, and on Workers the request URL's host comes from it.
    const res = await SELF.fetch(
      new Request("http://evil.example/v1/ice-servers", {
        method: "POST",
        headers: {
          host: "evil.example",
          origin: "http://evil.example",
          authorization: `Bearer ${await userJwt(freshSubject())}`,
        },
      }),
    );
    await expectError(res, 403, 10013);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect((await emulator.calls()).total).toBe(0);
  });

  it("refuses turnvend's own origin unless ALLOWED_ORIGINS lists it (the connectivity page's origin must be)", async () => {
    const res = await vend(await userJwt(freshSubject()), { headers: { origin: "http://turnvend.test" } });
    await expectError(res, 403, 10013);
  });
});

describe("admin routes send no CORS headers at all", () => {
  it.each([
    ["GET", KEYS_PATH],
    ["OPTIONS", KEYS_PATH],
    ["GET", ACTIVE_KEY_PATH],
    ["OPTIONS", ACTIVE_KEY_PATH],
    ["POST", REVOKE_PATH],
    ["OPTIONS", REVOKE_PATH],
  ])("%s %s from an allowed origin", async (method, path) => {
    const res = await call(path, {
      method,
      as: "admin",
      body: method === "POST" ? { username: "nobody" } : undefined,
      headers: { origin: ALLOWED, "access-control-request-method": "GET" },
    });
    expect(res.status).not.toBe(204);
    expect(corsHeaders(res)).toEqual([]);
  });
});
