import { env, listDurableObjectIds } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { call, envelope } from "./support/api";
import { emulator } from "./support/emulator";
import { resetWorld } from "./support/reset";
import { CALLERS, SECRET_VALUES, SUBJECT_HASH_KEY } from "./support/fixtures";
import {
  activeVendingKey,
  expectError,
  fetchWith,
  freshSubject,
  userJwt,
  vend,
  VEND_PATH,
  type Vended,
} from "./support/vend";
import { hmacHex } from "./support/hmac";

beforeEach(async () => {
  await resetWorld();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const allUrls = (body: Vended) => body.iceServers.flatMap((s) => s.urls);

describe("vending for an end user", () => {
  it("answers { iceServers, ttl, expiresAt, provider } ready for new RTCPeerConnection(), never cached", async () => {
    await activeVendingKey();
    const res = await vend(await userJwt(freshSubject()));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as Vended;
    // Cloudflare answered, as TURN_PROVIDER_MODE=cloudflare prefers: no `degraded`.
    expect(Object.keys(body).sort()).toEqual(["expiresAt", "iceServers", "provider", "ttl"]);
    expect((body as Vended & { provider: string }).provider).toBe("cloudflare");
    expect(body.iceServers.length).toBeGreaterThan(0);
    for (const server of body.iceServers) {
      expect(Array.isArray(server.urls)).toBe(true);
      expect(server.urls.length).toBeGreaterThan(0);
      for (const k of Object.keys(server)) expect(["urls", "username", "credential"]).toContain(k);
    }
    const turn = body.iceServers.find((s) => s.username);
    expect(turn?.credential).toBeTruthy();
    expect(turn?.urls.some((u) => u.startsWith("turn:"))).toBe(true);
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBe(1);
  });

  it("tags the credential upstream with a keyed hash of the subject, never the subject", async () => {
    await activeVendingKey();
    const subject = freshSubject("alice@example.com");
    expect((await vend(await userJwt(subject))).status).toBe(200);
    const { credentials } = (await emulator.state()) as { credentials: { customIdentifier: string }[] };
    expect(credentials).toHaveLength(1);
    const expected = (await hmacHex(SUBJECT_HASH_KEY, subject)).slice(0, 32);
    expect(credentials[0].customIdentifier).toBe(expected);
    expect(credentials[0].customIdentifier).not.toContain("alice");
  });

  it("puts no secret and no raw subject in the response or the logs", async () => {
    const key = await activeVendingKey();
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const subject = freshSubject("private-person");
    const res = await vend(await userJwt(subject));
    const text = await res.text();
    for (const secret of [...SECRET_VALUES, key.key]) {
      expect(text).not.toContain(secret);
      expect(lines.join("\n")).not.toContain(secret);
    }
    expect(text).not.toContain(subject);
    expect(lines.join("\n")).not.toContain(subject);
    // The vend is recorded on the request's one access-log line, by the subject's hash.
    const access = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === "request" && l.route === "ice_servers.vend");
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ status: 200, key_id: key.uid, ttl: 3600, credentials: 1, issued_by: "end_user" });
    expect(access[0]!.subject_hash).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("vending for an internal caller", () => {
  it("vends for the subject named by a caller holding credentials:issue", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const res = await vend(CALLERS.issuer.token, { body: { subject, ttl: 600 } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Vended).ttl).toBe(600);
    const { credentials } = (await emulator.state()) as { credentials: { customIdentifier: string }[] };
    expect(credentials[0].customIdentifier).toBe((await hmacHex(SUBJECT_HASH_KEY, subject)).slice(0, 32));
  });

  it("requires the subject from an internal caller", async () => {
    await activeVendingKey();
    await expectError(await vend(CALLERS.issuer.token, { body: {} }), 400, 10001);
    await expectError(await vend(CALLERS.issuer.token, { body: { subject: "" } }), 400, 10001);
    await expectError(await vend(CALLERS.issuer.token, { body: { subject: "x".repeat(257) } }), 400, 10001);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("refuses a caller without credentials:issue with 403 and no upstream call", async () => {
    await activeVendingKey();
    for (const role of ["reader", "revoker", "writer"] as const) {
      const res = await vend(CALLERS[role].token, { body: { subject: freshSubject() } });
      await expectError(res, 403, 10011);
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    expect((await emulator.calls()).total).toBe(0);
  });

  it("refuses unknown body fields", async () => {
    await activeVendingKey();
    await expectError(await vend(CALLERS.issuer.token, { body: { subject: "s", extra: true } }), 400, 10003);
    expect((await emulator.calls()).total).toBe(0);
  });
});

describe("the TTL policy", () => {
  it("defaults to CREDENTIAL_TTL_DEFAULT_SECONDS (1 hour) and computes expiresAt itself", async () => {
    await activeVendingKey();
    const before = Date.now();
    const body = (await (await vend(await userJwt(freshSubject()))).json()) as Vended;
    const after = Date.now();
    expect(body.ttl).toBe(3600);
    expect(body.expiresAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    const expires = Date.parse(body.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(after + 3600_000);
    const { credentials } = (await emulator.state()) as { credentials: { ttl: number }[] };
    expect(credentials[0].ttl).toBe(3600);
  });

  it.each([60, 600, 172_800])("accepts ttl %i and asks upstream for exactly that", async (ttl) => {
    await activeVendingKey();
    const before = Date.now();
    const res = await vend(await userJwt(freshSubject()), { body: { ttl } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Vended;
    expect(body.ttl).toBe(ttl);
    expect(Math.abs(Date.parse(body.expiresAt) - (before + ttl * 1000))).toBeLessThan(5_000);
    const { credentials } = (await emulator.state()) as { credentials: { ttl: number }[] };
    expect(credentials[0].ttl).toBe(ttl);
  });

  it.each([
    ["below the minimum", 59],
    ["zero", 0],
    ["negative", -60],
    ["above the maximum", 172_801],
    ["fractional", 600.5],
    ["a string", "600"],
    ["null", null],
  ])("refuses a ttl that is %s with 400 naming the allowed range", async (_label, ttl) => {
    await activeVendingKey();
    const res = await vend(await userJwt(freshSubject()), { body: { ttl } });
    const body = await expectError(res, 400, 10005);
    expect(body.errors[0].message).toContain("[60, 172800]");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await emulator.calls()).total).toBe(0);
  });

  it("honours a lower configured maximum", async () => {
    await activeVendingKey();
    const token = await userJwt(freshSubject());
    const over = await fetchWith({ CREDENTIAL_TTL_MAX_SECONDS: "7200" }, VEND_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ ttl: 7201 }),
    });
    expect((await expectError(over, 400, 10005)).errors[0].message).toContain("[60, 7200]");
    const ok = await fetchWith({ CREDENTIAL_TTL_MAX_SECONDS: "7200" }, VEND_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ ttl: 7200 }),
    });
    expect(ok.status).toBe(200);
  });
});

describe("shaping what browsers get", () => {
  it("drops every port-53 URL the upstream hands out", async () => {
    await activeVendingKey();
    const body = (await (await vend(await userJwt(freshSubject()))).json()) as Vended;
    const urls = allUrls(body);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) expect(url).not.toMatch(/:53(\?|$)/);
    // The emulator serves port-53 URLs for STUN and TURN alike; the rest survive.
    expect(urls).toContain("stun:stun.cloudflare.com:3478");
    expect(urls).toContain("turn:turn.cloudflare.com:3478?transport=udp");
    expect(urls).toContain("turns:turn.cloudflare.com:443?transport=tcp");
  });

  it("normalizes the legacy single-object answer of the emulator's generate route", async () => {
    await activeVendingKey();
    // Point generate-ice-servers at the legacy route, as an older upstream would answer.
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      return realFetch(url.replace(/\/generate-ice-servers$/, "/generate"), init);
    });
    const res = await fetchWith({}, VEND_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${await userJwt(freshSubject())}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Vended;
    expect(Array.isArray(body.iceServers)).toBe(true);
    expect(body.iceServers).toHaveLength(1);
    expect(Array.isArray(body.iceServers[0].urls)).toBe(true);
    expect(body.iceServers[0].username).toBeTruthy();
    for (const url of allUrls(body)) expect(url).not.toMatch(/:53(\?|$)/);
    const calls = await emulator.calls();
    expect(calls["credentials.generate"]).toBe(1);
    expect(calls["credentials.generate_ice_servers"]).toBe(0);
  });

  it("answers 502, not a broken list, when upstream returns something that is not ICE servers", async () => {
    await activeVendingKey();
    // The emulator also accepts "shape" (valid JSON, wrong shape); the support type only names booleans.
    await emulator.fault({ route: "credentials.generate_ice_servers", malformed: "shape" as unknown as boolean });
    const res = await vend(await userJwt(freshSubject()));
    await expectError(res, 502, 10031);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});

describe("which key vends", () => {
  it("answers 503 no_active_key, without an upstream call, when no key is set", async () => {
    await env.TURNVEND_KV.delete("vend:v1:active-key");
    const res = await vend(await userJwt(freshSubject()));
    const body = await expectError(res, 503, 10035);
    expect(body.errors[0].message).toContain("/v1/active-key");
    expect((await emulator.calls()).total).toBe(0);
  });

  it("answers 503 when turnvend no longer holds the active key's secret", async () => {
    const key = await activeVendingKey();
    await env.TURNVEND_KV.delete(`secret:v1:${key.uid}`);
    await expectError(await vend(await userJwt(freshSubject())), 503, 10035);
    expect((await emulator.calls()).total).toBe(0);
  });

  it("answers 503, never 401, when Cloudflare refuses the key itself", async () => {
    await activeVendingKey();
    for (const status of [401, 403, 404]) {
      await emulator.fault({ route: "credentials.generate_ice_servers", status });
      const res = await vend(await userJwt(freshSubject()));
      await expectError(res, 503, 10035);
    }
  });

  it("vends with TURN_KEY_ID when it pins a key, whatever the active key", async () => {
    await activeVendingKey();
    const pinned = await emulator.createOutOfBand("pinned");
    const { KeySecrets } = await import("../src/storage/key-secrets");
    const { KEY_ENCRYPTION_KEY } = await import("./support/fixtures");
    await new KeySecrets(env.TURNVEND_KV, KEY_ENCRYPTION_KEY).store(pinned.uid, pinned.key, "test");
    const res = await fetchWith({ TURN_KEY_ID: pinned.uid }, VEND_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${await userJwt(freshSubject())}` },
    });
    expect(res.status).toBe(200);
    const { credentials } = (await emulator.state()) as { credentials: { keyId: string }[] };
    expect(credentials[0].keyId).toBe(pinned.uid);
  });
});

describe("rate limits", () => {
  const refuse = (seen: string[]): RateLimit => ({
    limit: async ({ key }) => {
      seen.push(key);
      return { success: false };
    },
  });
  const allow = (seen: string[]): RateLimit => ({
    limit: async ({ key }) => {
      seen.push(key);
      return { success: true };
    },
  });
  const vendAs = (token: string, overrides: Partial<Record<keyof Env, unknown>>, headers = {}, body?: unknown) =>
    fetchWith(overrides, VEND_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it("answers 429 with Retry-After in the envelope when the user is over its bound, without an upstream call", async () => {
    await activeVendingKey();
    const seen: string[] = [];
    const subject = freshSubject("limited");
    const token = await userJwt(subject);
    const overrides = { CREDENTIAL_REQUESTS_PER_MINUTE: "2", VEND_IP_LIMITER: allow(seen) };
    const ip = { "cf-connecting-ip": "203.0.113.7" };
    for (let i = 0; i < 2; i++) expect((await vendAs(token, overrides, ip)).status).toBe(200);
    const before = (await emulator.calls()).total;
    const res = await vendAs(token, overrides, ip);
    await expectError(res, 429, 10029);
    // The bound is a rolling minute: Retry-After says when its oldest request leaves it.
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await emulator.calls()).total).toBe(before);
    // The per-user bound lives in the object named by the subject's keyed hash, never by the subject.
    const ids = (await listDurableObjectIds(env.USER_LEDGER)).map(String);
    const hash = (await hmacHex(SUBJECT_HASH_KEY, subject)).slice(0, 32);
    expect(ids).toContain(String(env.USER_LEDGER.idFromName(hash)));
    expect(ids).not.toContain(String(env.USER_LEDGER.idFromName(subject)));
    // The per-IP gate in front saw the address.
    expect(seen).toContain("ip:203.0.113.7");
    expect(seen.join()).not.toContain(subject);
  });

  it("answers 429 when the client IP is over its limit, before the user's object", async () => {
    await activeVendingKey();
    const seen: string[] = [];
    const subject = freshSubject();
    const res = await vendAs(
      await userJwt(subject),
      { VEND_IP_LIMITER: refuse(seen) },
      {
        "cf-connecting-ip": "198.51.100.9",
      },
    );
    await expectError(res, 429, 10029);
    expect(res.headers.get("retry-after")).toBe("60");
    expect((await emulator.calls()).total).toBe(0);
    expect(seen).toEqual(["ip:198.51.100.9"]);
    // The cheap gate refused it first: the user's object was never called (never even created).
    const hash = (await hmacHex(SUBJECT_HASH_KEY, subject)).slice(0, 32);
    const ids = (await listDurableObjectIds(env.USER_LEDGER)).map(String);
    expect(ids).not.toContain(String(env.USER_LEDGER.idFromName(hash)));
  });

  it("limits internal callers per subject but not per IP (all their users share one address)", async () => {
    await activeVendingKey();
    const seen: string[] = [];
    const subject = freshSubject();
    const overrides = { CREDENTIAL_REQUESTS_PER_MINUTE: "1", VEND_IP_LIMITER: refuse(seen) };
    const headers = { "cf-connecting-ip": "198.51.100.9" };
    const res = await vendAs(CALLERS.issuer.token, overrides, headers, { subject });
    expect(res.status).toBe(200);
    expect(seen.filter((k) => k.startsWith("ip:"))).toEqual([]);
    await expectError(await vendAs(CALLERS.issuer.token, overrides, headers, { subject }), 429, 10029);
  });

  it("bounds each user to CREDENTIAL_REQUESTS_PER_MINUTE as wrangler.toml sets it", async () => {
    await activeVendingKey();
    const token = await userJwt(freshSubject());
    const statuses: number[] = [];
    // wrangler.toml: CREDENTIAL_REQUESTS_PER_MINUTE = "20".
    for (let i = 0; i < 21; i++) statuses.push((await vend(token, { body: { ttl: 60 } })).status);
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(statuses[20]).toBe(429);
  });
});

describe("Cache-Control: no-store on every credential response", () => {
  it("is set on successes, errors, wrong methods and preflights alike", async () => {
    await activeVendingKey();
    const responses = [
      await vend(await userJwt(freshSubject())),
      await vend(undefined),
      await vend(CALLERS.reader.token, { body: { subject: "s" } }),
      await vend(await userJwt(freshSubject()), { body: { ttl: 1 } }),
      await vend(await userJwt(freshSubject()), { body: "{nope" }),
      await call(VEND_PATH, { method: "GET", as: "none" }),
      await call(VEND_PATH, {
        method: "OPTIONS",
        as: "none",
        headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
      }),
      await call(VEND_PATH, { method: "POST", as: "none", headers: { origin: "https://evil.example" } }),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 403, 400, 400, 405, 204, 403]);
    for (const res of responses) expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("is set on revocation answers too", async () => {
    const res = await call("/v1/credentials/revoke", { as: "revoker", body: { username: "nobody" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await envelope<{ revoked: number }>(res)).result).toEqual({ revoked: 0 });
  });
});

describe("subjects are plain text", () => {
  it.each(["a\u0000b", "line\r\nbreak", "\ud800", "x".repeat(300)])(
    "refuses the subject %j with 400 and no upstream call",
    async (subject) => {
      await activeVendingKey();
      const before = (await emulator.calls()).total;
      const res = await vend(CALLERS.issuer.token, { body: { subject } });
      expect(res.status).toBe(400);
      expect((await emulator.calls()).total).toBe(before);
    },
  );
});
