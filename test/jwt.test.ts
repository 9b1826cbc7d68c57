import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK } from "jose";
import { emulator } from "./support/emulator";
import { resetWorld } from "./support/reset";
import { JWT_SECRET } from "./support/fixtures";
import { captureConsole } from "./support/logs";
import {
  activeVendingKey,
  AUDIENCE,
  expectError,
  fetchWith,
  freshSubject,
  ISSUER,
  userJwt,
  vend,
  VEND_PATH,
} from "./support/vend";

const UNAUTHORIZED = 10010;

beforeEach(async () => {
  await resetWorld();
  await activeVendingKey();
});

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function claims(sub = freshSubject(), extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: ISSUER, aud: AUDIENCE, sub, iat: now, exp: now + 600, ...extra };
}

async function expectRefusedWithoutUpstream(res: Response) {
  await expectError(res, 401, UNAUTHORIZED);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect((await emulator.calls()).total).toBe(0);
}

describe("end-user JWTs signed with the HS256 secret", () => {
  const now = () => Math.floor(Date.now() / 1000);

  it("accepts a valid token and vends for its sub", async () => {
    const res = await vend(await userJwt(freshSubject()));
    expect(res.status).toBe(200);
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBe(1);
  });

  it("refuses a request with no Authorization header, without calling upstream", async () => {
    await expectRefusedWithoutUpstream(await vend(undefined));
  });

  it.each([
    ["a non-bearer scheme", "Basic dXNlcjpwYXNz"],
    ["a bearer with junk after the token", "Bearer abc def"],
    ["an empty bearer", "Bearer "],
  ])("refuses %s, without calling upstream", async (_label, header) => {
    await expectRefusedWithoutUpstream(await vend(undefined, { headers: { authorization: header } }));
  });

  it.each([
    ["a malformed token", "not-a-jwt"],
    ["three garbage segments", "aaaa.bbbb.cccc"],
    ["a token with a bad signature", "__SIGNED_WITH_OTHER_SECRET__"],
  ])("refuses %s, without calling upstream", async (_label, token) => {
    const t =
      token === "__SIGNED_WITH_OTHER_SECRET__" ? await userJwt(freshSubject(), {}, "another-secret-entirely") : token;
    await expectRefusedWithoutUpstream(await vend(t));
  });

  it("refuses an expired token beyond the 30 s leeway", async () => {
    await expectRefusedWithoutUpstream(
      await vend(await userJwt(freshSubject(), { iat: now() - 900, exp: now() - 120 })),
    );
  });

  it("accepts a token expired by less than the leeway", async () => {
    expect((await vend(await userJwt(freshSubject(), { iat: now() - 900, exp: now() - 10 }))).status).toBe(200);
  });

  it("refuses a token whose nbf is in the future", async () => {
    await expectRefusedWithoutUpstream(await vend(await userJwt(freshSubject(), { nbf: now() + 300 })));
  });

  it("refuses the wrong issuer", async () => {
    await expectRefusedWithoutUpstream(await vend(await userJwt(freshSubject(), { iss: "someone-else" })));
  });

  it("refuses the wrong audience", async () => {
    await expectRefusedWithoutUpstream(await vend(await userJwt(freshSubject(), { aud: "another-service" })));
  });

  it("refuses a token without exp or without sub", async () => {
    await expectRefusedWithoutUpstream(await vend(await userJwt(freshSubject(), { exp: undefined })));
    await expectRefusedWithoutUpstream(await vend(await userJwt("ignored", { sub: undefined })));
  });

  it("refuses alg none", async () => {
    const token = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims())}.`;
    await expectRefusedWithoutUpstream(await vend(token));
  });

  it("refuses an RS256-labelled token when only the HS256 secret is configured", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256" }).sign(privateKey);
    await expectRefusedWithoutUpstream(await vend(token));
  });

  it("never lets an end user choose the subject", async () => {
    const res = await vend(await userJwt(freshSubject()), { body: { subject: "someone-else" } });
    await expectError(res, 403, 10011);
    expect((await emulator.calls()).total).toBe(0);
  });
});

describe("end-user JWTs are capped in size and in lifetime", () => {
  const now = () => Math.floor(Date.now() / 1000);

  /** Vends with `token` (settings overridden), expecting a 401 with no upstream call; returns the logged reasons. */
  async function refusedReasons(token: string, overrides: Record<string, string> = {}) {
    const logs = captureConsole();
    const res = await fetchWith(overrides, VEND_PATH, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    logs.restore();
    await expectRefusedWithoutUpstream(res);
    return logs.json().flatMap((l) => (l.event === "auth.jwt_rejected" ? [l.reason] : []));
  }

  it("refuses a 60 KB token as too_long, without calling upstream", async () => {
    expect(await refusedReasons(await userJwt(freshSubject(), { pad: "x".repeat(60_000) }))).toEqual(["too_long"]);
  });

  it("refuses, as lifetime_too_long, exp 1e308, a lifetime over 24 hours, and no iat with exp 2 days out", async () => {
    const t = now();
    for (const extra of [{ exp: 1e308 }, { iat: t, exp: t + 86_401 }, { iat: undefined, exp: t + 2 * 86_400 }]) {
      expect(await refusedReasons(await userJwt(freshSubject(), extra))).toEqual(["lifetime_too_long"]);
    }
  });

  it("accepts a token that lives exactly 24 hours, the default cap", async () => {
    const t = now();
    expect((await vend(await userJwt(freshSubject(), { iat: t, exp: t + 86_400 }))).status).toBe(200);
  });

  it("takes the cap from JWT_MAX_LIFETIME_SECONDS", async () => {
    const t = now();
    const short = { JWT_MAX_LIFETIME_SECONDS: "300" };
    expect(await refusedReasons(await userJwt(freshSubject(), { iat: t, exp: t + 600 }), short)).toEqual([
      "lifetime_too_long",
    ]);
    const token = await userJwt(freshSubject(), { iat: t, exp: t + 300 });
    const res = await fetchWith(short, VEND_PATH, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
  });
});

describe("a JWT's sub is plain text, as an internal caller's subject is", () => {
  // A lone surrogate becomes U+FFFD when hashed, so each of these would share the hash (the ledger, the
  // rate limit, revocation, the reuse window) of another user's sub.
  it.each([
    ["a lone high surrogate", "\ud800"],
    ["a lone low surrogate", "\udfff"],
    ["a lone surrogate after text", "victim\udc00"],
    ["a NUL", "a\u0000b"],
    ["a CR LF", "line\r\nbreak"],
    ["a C1 control", "nel\u0085"],
  ])("refuses a sub with %s: 401, bad_sub logged (never the sub), no upstream call", async (_label, sub) => {
    const logs = captureConsole();
    const res = await vend(await userJwt(sub));
    logs.restore();
    await expectRefusedWithoutUpstream(res);
    // Plain values only in assertions: a lone surrogate in a failure message breaks the test runner's transport.
    expect(logs.json().map((l) => [l.event, l.reason])).toContainEqual(["auth.jwt_rejected", "bad_sub"]);
    expect(logs.raw.join("\n")).not.toContain(JSON.stringify(sub).slice(1, -1));
  });

  it("accepts U+FFFD itself and paired surrogates, which are well-formed text", async () => {
    for (const sub of ["\ufffd", `victim-\u{1f600}-${crypto.randomUUID()}`]) {
      expect((await vend(await userJwt(sub))).status).toBe(200);
    }
  });

  it("never hands the credentials of sub victim\\ufffd to sub victim\\udc00 within the reuse window", async () => {
    const reuse = { CREDENTIAL_REUSE_SECONDS: "600" };
    const post = (token: string) =>
      fetchWith(reuse, VEND_PATH, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect((await post(await userJwt("victim\ufffd"))).status).toBe(200);
    const before = (await emulator.calls()).total;
    await expectError(await post(await userJwt("victim\udc00")), 401, UNAUTHORIZED);
    expect((await emulator.calls()).total).toBe(before);
  });
});

describe("end-user JWTs verified with a JWKS (RS256/ES256)", () => {
  const JWKS_URL = "https://auth.example.test/.well-known/jwks.json";
  const BROKEN_JWKS_URL = "https://broken-idp.example.test/.well-known/jwks.json";
  let rsa: CryptoKeyPair;
  let ec: CryptoKeyPair;
  let stranger: CryptoKeyPair;
  let jwks: { keys: JWK[] };
  let jwksFetches = 0;
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    rsa = await generateKeyPair("RS256", { extractable: true });
    ec = await generateKeyPair("ES256", { extractable: true });
    stranger = await generateKeyPair("RS256", { extractable: true });
    jwks = {
      keys: [
        { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
        { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
      ],
    };
    // Only the identity provider's URLs are intercepted; everything else (the emulator) goes through.
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url === JWKS_URL) {
        jwksFetches++;
        return Response.json(jwks);
      }
      if (url === BROKEN_JWKS_URL) return new Response("upstream down", { status: 500 });
      return realFetch(input, init);
    });
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  const jwksEnv = { JWT_JWKS_URL: JWKS_URL };
  const post = (token: string, overrides: Record<string, string> = jwksEnv) =>
    fetchWith(overrides, VEND_PATH, { method: "POST", headers: { authorization: `Bearer ${token}` } });

  it("accepts valid RS256 and ES256 tokens, fetching the JWKS once per isolate", async () => {
    const rs = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: "rsa-1" }).sign(rsa.privateKey);
    const es = await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid: "ec-1" }).sign(ec.privateKey);
    const before = jwksFetches;
    expect((await post(rs)).status).toBe(200);
    expect((await post(es)).status).toBe(200);
    expect(jwksFetches - before).toBeLessThanOrEqual(1);
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBe(2);
  });

  it("refuses HS256 signed with the RSA public key (algorithm confusion)", async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
      .sign(new TextEncoder().encode(pem));
    await expectRefusedWithoutUpstream(await post(token));
  });

  it("refuses HS256 tokens altogether in JWKS mode, even with the configured secret", async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(JWT_SECRET));
    await expectRefusedWithoutUpstream(await post(token));
  });

  it("refuses alg none", async () => {
    await expectRefusedWithoutUpstream(await post(`${b64url({ alg: "none", kid: "rsa-1" })}.${b64url(claims())}.`));
  });

  it("refuses an unknown kid", async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "RS256", kid: "not-in-the-set" })
      .sign(stranger.privateKey);
    await expectRefusedWithoutUpstream(await post(token));
  });

  it("refuses a token signed by a key outside the set under a known kid", async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "RS256", kid: "rsa-1" })
      .sign(stranger.privateKey);
    await expectRefusedWithoutUpstream(await post(token));
  });

  it("refuses expired, not-yet-valid, wrong-issuer and wrong-audience tokens", async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const extra of [{ exp: now - 120 }, { nbf: now + 300 }, { iss: "other" }, { aud: "other" }]) {
      const token = await new SignJWT(claims(freshSubject(), extra))
        .setProtectedHeader({ alg: "RS256", kid: "rsa-1" })
        .sign(rsa.privateKey);
      await expectRefusedWithoutUpstream(await post(token));
    }
  });

  it("answers 503, not 401, when the identity provider's JWKS cannot be fetched", async () => {
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: "rsa-1" }).sign(rsa.privateKey);
    const res = await post(token, { JWT_JWKS_URL: BROKEN_JWKS_URL });
    await expectError(res, 503, 10037);
    expect((await emulator.calls()).total).toBe(0);
  });
});
