// The JWT verifier itself (src/auth/jwt.ts, src/auth/remote-jwks.ts), below the routes: tokens are
// signed with jose (or by hand, for headers jose will not write) and verified by the Worker's code,
// which uses Hono's helpers, so every accepted token is a cross-implementation check.
import { decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { mintDevJwt } from "../src/auth/dev-jwt";
import { verifyEndUserJwt } from "../src/auth/end-user-jwt";
import { JwtRejected, verifyJwt, type JwtPolicy } from "../src/auth/jwt";
import { KeySetUnavailable, remoteKeySet } from "../src/auth/remote-jwks";
import { isFailure } from "../src/errors";
import { captureConsole } from "./support/logs";

const ISSUER = "https://auth.example.test";
const AUDIENCE = "turnvend";
const SECRET = "unit-test-secret-that-is-long-enough-for-hs256";
const enc = new TextEncoder();
const now = () => Math.floor(Date.now() / 1000);

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const part = (value: unknown) => b64url(enc.encode(typeof value === "string" ? value : JSON.stringify(value)));

const hmacSign = crypto.subtle.importKey("raw", enc.encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
const hmacVerify = crypto.subtle.importKey("raw", enc.encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, [
  "verify",
]);

/** An HS256 token with any header and any payload text (jose refuses to write some of them). */
async function hs256(header: Record<string, unknown>, payload: unknown): Promise<string> {
  const input = `${part(header)}.${part(payload)}`;
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacSign, enc.encode(input)));
  return `${input}.${b64url(sig)}`;
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "alice",
    iat: now(),
    exp: now() + 600,
    ...extra,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

const hsPolicy: JwtPolicy = {
  algorithms: ["HS256"],
  keyFor: () => hmacVerify,
  issuer: ISSUER,
  audience: AUDIENCE,
  clockToleranceSeconds: 30,
  requiredClaims: ["exp", "sub"],
  maxLength: 8_192,
};

async function reason(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JwtRejected);
  return (err as JwtRejected).reason;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("headers", () => {
  it("accepts typ JWT or at+jwt (RFC 9068 access tokens; any case, with or without application/) and no typ", async () => {
    for (const typ of [undefined, "JWT", "jwt", "application/jwt", "at+jwt", "application/at+JWT"]) {
      const token = await hs256(typ === undefined ? { alg: "HS256" } : { alg: "HS256", typ }, claims());
      expect((await verifyJwt(token, hsPolicy)).sub).toBe("alice");
    }
  });

  it.each([
    ["another typ", { alg: "HS256", typ: "dpop+jwt" }, "bad_header"],
    ["a typ that is not a string", { alg: "HS256", typ: 1 }, "bad_header"],
    ["a crit header", { alg: "HS256", crit: ["exp"], exp: 1 }, "bad_header"],
    ["crit b64", { alg: "HS256", crit: ["b64"], b64: true }, "bad_header"],
    ["alg none", { alg: "none" }, "bad_header"],
    ["an algorithm outside the allow-list", { alg: "HS512" }, "alg_not_allowed"],
    ["no alg", { typ: "JWT" }, "bad_header"],
  ])("refuses %s", async (_label, header, expected) => {
    expect(await reason(verifyJwt(await hs256(header, claims()), hsPolicy))).toBe(expected);
  });

  it("refuses a header that is not a JSON object", async () => {
    expect(
      await reason(
        verifyJwt(
          await hs256({ alg: "HS256" }, claims()).then((t) => `${part("[1]")}${t.slice(t.indexOf("."))}`),
          hsPolicy,
        ),
      ),
    ).toBe("bad_header");
  });

  it("looks up no key for a refused header", async () => {
    const keyFor = vi.fn(hsPolicy.keyFor);
    for (const header of [{ alg: "none" }, { alg: "RS256" }, { alg: "HS256", typ: "dpop+jwt" }]) {
      await reason(verifyJwt(await hs256(header, claims()), { ...hsPolicy, keyFor }));
    }
    expect(keyFor).not.toHaveBeenCalled();
  });
});

describe("encoding", () => {
  it.each([
    ["padding on the signature", (t: string) => `${t}=`],
    ["whitespace", (t: string) => t.replace(".", ". ")],
    ["a fourth part", (t: string) => `${t}.x`],
    ["an empty signature", (t: string) => t.slice(0, t.lastIndexOf(".") + 1)],
    ["standard base64 characters", (t: string) => `${t.slice(0, -1)}+`],
  ])("refuses %s", async (_label, mangle) => {
    expect(await reason(verifyJwt(mangle(await hs256({ alg: "HS256" }, claims())), hsPolicy))).toBe("malformed");
  });

  it("refuses a signature made with another secret", async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "HS256" })
      .sign(enc.encode("another-secret-that-is-also-long-enough"));
    expect(await reason(verifyJwt(token, hsPolicy))).toBe("bad_signature");
  });

  it.each([
    ["an array", [1]],
    ["a string", '"x"'],
    ["null", "null"],
  ])("refuses a payload that is %s, once signed", async (_label, payload) => {
    expect(await reason(verifyJwt(await hs256({ alg: "HS256" }, payload), hsPolicy))).toBe("malformed_claims");
  });
});

describe("claims", () => {
  it("checks iss and aud exactly; aud may be an array holding ours", async () => {
    const ok = async (extra: Record<string, unknown>) =>
      verifyJwt(await hs256({ alg: "HS256" }, claims(extra)), hsPolicy);
    await expect(ok({ aud: ["other", AUDIENCE] })).resolves.toBeTruthy();
    expect(await reason(ok({ aud: ["other"] }))).toBe("bad_aud");
    expect(await reason(ok({ aud: `${AUDIENCE} ` }))).toBe("bad_aud");
    expect(await reason(ok({ aud: [[AUDIENCE]] }))).toBe("bad_aud");
    expect(await reason(ok({ iss: `${ISSUER}/` }))).toBe("bad_iss");
    expect(await reason(ok({ iss: [ISSUER] }))).toBe("bad_iss");
    expect(await reason(ok({ iss: undefined }))).toBe("missing_iss");
    expect(await reason(ok({ aud: undefined }))).toBe("missing_aud");
    expect(await reason(ok({ exp: undefined }))).toBe("missing_exp");
    expect(await reason(ok({ sub: undefined }))).toBe("missing_sub");
  });

  it("applies the leeway to exp and nbf, at the boundary", async () => {
    const at = async (extra: Record<string, unknown>) =>
      verifyJwt(await hs256({ alg: "HS256" }, claims(extra)), hsPolicy);
    const t = now();
    await expect(at({ exp: t - 29 })).resolves.toBeTruthy();
    expect(await reason(at({ exp: t - 30 }))).toBe("expired");
    await expect(at({ nbf: t + 30 })).resolves.toBeTruthy();
    expect(await reason(at({ nbf: t + 31 }))).toBe("not_yet_valid");
  });

  it("reports expiry only for a token that is otherwise ours", async () => {
    const token = await hs256({ alg: "HS256" }, claims({ aud: "other", exp: now() - 3600 }));
    expect(await reason(verifyJwt(token, hsPolicy))).toBe("bad_aud");
  });

  it("accepts an iat in the future (only nbf and exp bound a token), but not a non-number iat", async () => {
    await expect(
      verifyJwt(await hs256({ alg: "HS256" }, claims({ iat: now() + 3600 })), hsPolicy),
    ).resolves.toBeTruthy();
    expect(await reason(verifyJwt(await hs256({ alg: "HS256" }, claims({ iat: "1" })), hsPolicy))).toBe("bad_iat");
  });

  it("refuses a non-numeric or infinite exp and nbf", async () => {
    expect(await reason(verifyJwt(await hs256({ alg: "HS256" }, claims({ exp: String(now() + 600) })), hsPolicy))).toBe(
      "bad_exp",
    );
    expect(await reason(verifyJwt(await hs256({ alg: "HS256" }, claims({ exp: null })), hsPolicy))).toBe("bad_exp");
    const forever = JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e999');
    expect(await reason(verifyJwt(await hs256({ alg: "HS256" }, forever), hsPolicy))).toBe("bad_exp");
    const never = JSON.stringify(claims()).replace(/"iat":\d+/, '"nbf":-1e999');
    expect(await reason(verifyJwt(await hs256({ alg: "HS256" }, never), hsPolicy))).toBe("bad_nbf");
  });
});

describe("size and lifetime caps", () => {
  const capped: JwtPolicy = { ...hsPolicy, maxLifetimeSeconds: 3_600 };
  const at = async (extra: Record<string, unknown>) => verifyJwt(await hs256({ alg: "HS256" }, claims(extra)), capped);
  /** Freezes Date.now(), so a boundary one second away cannot move while the token is made and checked. */
  const freeze = () => {
    const t = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(t);
    return Math.floor(t / 1000);
  };

  it("refuses a token longer than the policy's maxLength as too_long, before looking up a key", async () => {
    const keyFor = vi.fn(hsPolicy.keyFor);
    const policy: JwtPolicy = { ...hsPolicy, maxLength: 1_000, keyFor };
    const padded = (n: number) => hs256({ alg: "HS256" }, claims({ pad: "x".repeat(n) }));
    // The longest token within the cap, and the next one up.
    let n = 300;
    let fits = await padded(n);
    let over = await padded(n + 1);
    while (over.length <= 1_000) {
      n++;
      fits = over;
      over = await padded(n + 1);
    }
    expect(fits.length).toBeGreaterThan(995);
    await expect(verifyJwt(fits, policy)).resolves.toBeTruthy();
    keyFor.mockClear();
    expect(await reason(verifyJwt(over, policy))).toBe("too_long");
    expect(keyFor).not.toHaveBeenCalled();
  });

  it("caps the lifetime from iat to exp, however little of it is left", async () => {
    const t = freeze();
    await expect(at({ iat: t, exp: t + 3_600 })).resolves.toBeTruthy();
    expect(await reason(at({ iat: t, exp: t + 3_601 }))).toBe("lifetime_too_long");
    expect(await reason(at({ iat: t - 3_000, exp: t + 601 }))).toBe("lifetime_too_long");
  });

  it("measures from now, with the leeway, when iat is absent or in the future", async () => {
    const t = freeze();
    await expect(at({ iat: undefined, exp: t + 3_630 })).resolves.toBeTruthy();
    expect(await reason(at({ iat: undefined, exp: t + 3_631 }))).toBe("lifetime_too_long");
    // An iat dated ahead does not move the cap: the token is usable from now on.
    await expect(at({ iat: t + 20, exp: t + 3_620 })).resolves.toBeTruthy();
    expect(await reason(at({ iat: t + 7_200, exp: t + 7_800 }))).toBe("lifetime_too_long");
  });

  it("refuses exp 1e308 and iat -1e308: finite, but a lifetime no token has", async () => {
    const forever = JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e308');
    expect(await reason(verifyJwt(await hs256({ alg: "HS256" }, forever), capped))).toBe("lifetime_too_long");
    const ancient = JSON.stringify(claims()).replace(/"iat":\d+/, '"iat":-1e308');
    expect(await reason(verifyJwt(await hs256({ alg: "HS256" }, ancient), capped))).toBe("lifetime_too_long");
  });
});

describe("end-user tokens are capped", () => {
  const settings = { issuer: ISSUER, audience: AUDIENCE, hs256Secret: SECRET, maxLifetimeSeconds: 86_400 };

  /** What verifyEndUserJwt logs and answers for `token`. */
  async function refusal(token: string) {
    const logs = captureConsole();
    const err = await verifyEndUserJwt(token, settings).catch((e: unknown) => e);
    logs.restore();
    expect(isFailure(err, "unauthorized")).toBe(true);
    return { reasons: logs.json().map((l) => l.reason), message: (err as Error).message };
  }

  it("at 8,192 characters: a 60 KB token is refused as too_long", async () => {
    const big = await hs256({ alg: "HS256" }, claims({ pad: "x".repeat(60_000) }));
    expect(await refusal(big)).toEqual({
      reasons: ["too_long"],
      message: "the token is longer than 8192 characters",
    });
    const near = await hs256({ alg: "HS256" }, claims({ pad: "x".repeat(5_900) }));
    expect(near.length).toBeGreaterThan(8_000);
    expect(near.length).toBeLessThanOrEqual(8_192);
    await expect(verifyEndUserJwt(near, settings)).resolves.toEqual({ subject: "alice" });
  });

  it("at the configured lifetime: exp 1e308, or a day and a second, is refused as lifetime_too_long", async () => {
    const forever = JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e308');
    const expected = {
      reasons: ["lifetime_too_long"],
      message: "the token lives longer than 86400 seconds (from iat, or from now without iat, to exp)",
    };
    expect(await refusal(await hs256({ alg: "HS256" }, forever))).toEqual(expected);
    const t = now();
    expect(await refusal(await hs256({ alg: "HS256" }, claims({ iat: t, exp: t + 86_401 })))).toEqual(expected);
    expect(await refusal(await hs256({ alg: "HS256" }, claims({ iat: undefined, exp: t + 2 * 86_400 })))).toEqual(
      expected,
    );
    await expect(
      verifyEndUserJwt(await hs256({ alg: "HS256" }, claims({ iat: t, exp: t + 86_400 })), settings),
    ).resolves.toEqual({ subject: "alice" });
  });
});

describe("keys must fit the algorithm", () => {
  it("refuses a key of another type, and RSA keys under 2048 bits", async () => {
    const ec = await generateKeyPair("ES256");
    const weak = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      false,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const rsPolicy: JwtPolicy = { ...hsPolicy, algorithms: ["RS256"], keyFor: async () => weak.publicKey };
    // jose will not sign with a key this weak; sign by hand.
    const input = `${part({ alg: "RS256" })}.${part(claims())}`;
    const weakToken = `${input}.${b64url(new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", weak.privateKey, enc.encode(input))))}`;
    expect(await reason(verifyJwt(weakToken, rsPolicy))).toBe("key_mismatch");
    expect(
      await reason(
        verifyJwt(await hs256({ alg: "HS256" }, claims()), {
          ...hsPolicy,
          keyFor: async () => ec.publicKey as CryptoKey,
        }),
      ),
    ).toBe("key_mismatch");
  });
});

describe("a remote JWKS", () => {
  let rsa: CryptoKeyPair;
  let rsa2: CryptoKeyPair;
  let ec: CryptoKeyPair;
  let rsaJwk: JWK;
  let rsa2Jwk: JWK;
  let ecJwk: JWK;

  beforeAll(async () => {
    [rsa, rsa2, ec] = (await Promise.all([
      generateKeyPair("RS256"),
      generateKeyPair("RS256"),
      generateKeyPair("ES256", { extractable: true }),
    ])) as CryptoKeyPair[];
    rsaJwk = await exportJWK(rsa.publicKey);
    rsa2Jwk = await exportJWK(rsa2.publicKey);
    ecJwk = await exportJWK(ec.publicKey);
  });

  const routes = new Map<string, (init?: RequestInit) => Response>();
  beforeEach(() => {
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(
      async (input, init) => routes.get(String(input))?.(init) ?? realFetch(input, init),
    );
  });

  /** Serves `respond()` at a fresh URL (so the per-isolate set starts empty) and counts fetches. */
  function idp(respond: () => Response) {
    const url = `https://idp-${crypto.randomUUID()}.example.test/jwks.json`;
    const seen = { fetches: 0, init: undefined as RequestInit | undefined };
    routes.set(url, (init) => {
      seen.fetches++;
      seen.init = init;
      return respond();
    });
    return { url, seen, set: remoteKeySet(url, "test.jwks_unavailable") };
  }
  const jwks =
    (...keys: unknown[]) =>
    () =>
      Response.json({ keys });
  const policyFor = (set: ReturnType<typeof remoteKeySet>): JwtPolicy => ({
    ...hsPolicy,
    algorithms: ["RS256", "ES256"],
    keyFor: (alg, kid) => set.keyFor(alg, kid),
  });
  const rs256 = (header: Record<string, unknown> = { kid: "r1" }, key = rsa.privateKey) =>
    new SignJWT(claims()).setProtectedHeader({ alg: "RS256", ...header }).sign(key);

  it("fetches without following redirects, with a timeout, and verifies RS256 and ES256", async () => {
    const { set, seen } = idp(jwks({ ...rsaJwk, kid: "r1", alg: "RS256", use: "sig" }, { ...ecJwk, kid: "e1" }));
    await expect(verifyJwt(await rs256(), policyFor(set))).resolves.toBeTruthy();
    const es = await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid: "e1" }).sign(ec.privateKey);
    await expect(verifyJwt(es, policyFor(set))).resolves.toBeTruthy();
    expect(seen.fetches).toBe(1);
    expect(seen.init?.redirect).toBe("manual");
    expect(seen.init?.signal).toBeInstanceOf(AbortSignal);
  });

  it("imports each key once, across requests and across refetches of an unchanged set", async () => {
    const { set, seen } = idp(jwks({ ...rsaJwk, kid: "r1" }));
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    for (let i = 0; i < 3; i++) await verifyJwt(await rs256(), policyFor(set));
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + 11 * 60_000);
    // Past the cache's max age: the set is fetched again, and the unchanged key is not imported again.
    await verifyJwt(await rs256(), policyFor(set));
    expect(seen.fetches).toBe(2);
    expect(importKey.mock.calls.filter(([format]) => format === "jwk")).toHaveLength(1);
  });

  it("matches a key only if its kty, crv, alg, use and key_ops fit the token", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...rsaJwk, kid: "r1", alg: "RS512" }, "unknown_key"],
      [{ ...rsaJwk, kid: "r1", alg: "ES256" }, "unknown_key"],
      [{ ...rsaJwk, kid: "r1", use: "enc" }, "unknown_key"],
      [{ ...rsaJwk, kid: "r1", key_ops: ["encrypt"] }, "unknown_key"],
      [{ ...rsaJwk, kid: "r1", key_ops: ["verify", "verify"] }, "unknown_key"],
      [{ ...rsaJwk, kid: "r1", ext: "yes" }, "unknown_key"],
      [{ ...rsaJwk, kid: "r2" }, "unknown_key"],
      [{ ...ecJwk, kid: "r1" }, "unknown_key"],
    ];
    for (const [jwk, expected] of cases) {
      const { set } = idp(jwks(jwk));
      expect(await reason(verifyJwt(await rs256(), policyFor(set)))).toBe(expected);
    }
    // An ES256 token needs a P-256 key.
    const { set } = idp(jwks({ ...ecJwk, kid: "e1", crv: "P-384" }));
    const es = await new SignJWT(claims()).setProtectedHeader({ alg: "ES256", kid: "e1" }).sign(ec.privateKey);
    expect(await reason(verifyJwt(es, policyFor(set)))).toBe("unknown_key");
  });

  it("uses the one fitting key for a token without kid, and refuses when several fit", async () => {
    const single = idp(jwks({ ...rsaJwk, kid: "r1" }, { ...ecJwk, kid: "e1" }));
    await expect(verifyJwt(await rs256({}), policyFor(single.set))).resolves.toBeTruthy();
    const several = idp(jwks({ ...rsaJwk, kid: "r1" }, { ...rsa2Jwk, kid: "r2" }));
    expect(await reason(verifyJwt(await rs256({}), policyFor(several.set)))).toBe("ambiguous_key");
    const duplicate = idp(jwks({ ...rsaJwk, kid: "r1" }, { ...rsa2Jwk, kid: "r1" }));
    expect(await reason(verifyJwt(await rs256(), policyFor(duplicate.set)))).toBe("ambiguous_key");
    expect(await reason(verifyJwt(await rs256({ kid: 1 }), policyFor(single.set)))).toBe("unknown_key");
  });

  it.each([
    [
      "a redirect",
      () => new Response(null, { status: 302, headers: { location: "https://elsewhere.example.test/jwks.json" } }),
      "http_302",
    ],
    ["a 500", () => new Response("down", { status: 500 }), "http_500"],
    ["a body that is not JSON", () => new Response("<html>", { status: 200 }), "not_json"],
    ["JSON that is not a key set", () => Response.json({ keys: "none" }), "malformed_set"],
    ["a set with a member that is not an object", () => Response.json({ keys: [1] }), "malformed_set"],
    ["a set that is an array", () => Response.json([]), "malformed_set"],
  ])("is unavailable (never accepting) on %s, and logs why", async (_label, respond, why) => {
    const { set } = idp(respond);
    const logs = captureConsole();
    const err = await verifyJwt(await rs256(), policyFor(set)).catch((e: unknown) => e);
    logs.restore();
    expect(err).toBeInstanceOf(KeySetUnavailable);
    expect(logs.json()).toContainEqual(expect.objectContaining({ event: "test.jwks_unavailable", reason: why }));
  });

  /** Moves Date.now() forward by `ms` from here on (cumulative). */
  function clockAdvancer() {
    const realNow = Date.now.bind(Date);
    let offset = 0;
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + offset);
    return (ms: number) => {
      offset += ms;
    };
  }

  it("keeps verifying with the set it has while the provider fails, for up to an hour, fetching at most once per 30 s", async () => {
    let up = true;
    const { set, seen } = idp(() =>
      up ? Response.json({ keys: [{ ...rsaJwk, kid: "r1" }] }) : new Response("down", { status: 503 }),
    );
    const advance = clockAdvancer();
    await verifyJwt(await rs256(), policyFor(set));
    up = false;
    advance(11 * 60_000); // past the 10-minute max age
    await expect(verifyJwt(await rs256(), policyFor(set))).resolves.toBeTruthy();
    await expect(verifyJwt(await rs256(), policyFor(set))).resolves.toBeTruthy();
    expect(seen.fetches).toBe(2);
    advance(31_000);
    await expect(verifyJwt(await rs256(), policyFor(set))).resolves.toBeTruthy();
    expect(seen.fetches).toBe(3);
    advance(50 * 60_000); // an hour since the last good fetch
    await expect(verifyJwt(await rs256(), policyFor(set))).rejects.toBeInstanceOf(KeySetUnavailable);
    up = true;
    advance(31_000);
    await expect(verifyJwt(await rs256(), policyFor(set))).resolves.toBeTruthy();
  });

  it("asks a failing provider at most once per 30 s, even with no set yet, and never calls an unknown kid bad then", async () => {
    let up = false;
    const { set, seen } = idp(() =>
      up ? Response.json({ keys: [{ ...rsaJwk, kid: "r1" }] }) : new Response("down", { status: 500 }),
    );
    const advance = clockAdvancer();
    for (let i = 0; i < 3; i++)
      await expect(verifyJwt(await rs256(), policyFor(set))).rejects.toBeInstanceOf(KeySetUnavailable);
    expect(seen.fetches).toBe(1);
    advance(31_000);
    up = true;
    await expect(verifyJwt(await rs256(), policyFor(set))).resolves.toBeTruthy();
    // A kid the set lacks while the provider is down again: it may be a rotated key, so 503, not 401.
    up = false;
    advance(31_000);
    await expect(verifyJwt(await rs256({ kid: "rotated" }), policyFor(set))).rejects.toBeInstanceOf(KeySetUnavailable);
    expect(seen.fetches).toBe(3);
  });

  it("is unavailable when the key a token names cannot be imported, or is a private key", async () => {
    const broken = idp(jwks({ ...rsaJwk, kid: "r1", n: "!!" }));
    await expect(verifyJwt(await rs256(), policyFor(broken.set))).rejects.toBeInstanceOf(KeySetUnavailable);
    const priv = await exportJWK((await generateKeyPair("RS256", { extractable: true })).privateKey);
    const leaked = idp(jwks({ ...priv, kid: "r1" }));
    await expect(verifyJwt(await rs256(), policyFor(leaked.set))).rejects.toBeInstanceOf(KeySetUnavailable);
  });
});

describe("the end user's subject", () => {
  const settings = { issuer: ISSUER, audience: AUDIENCE, hs256Secret: SECRET, maxLifetimeSeconds: 86_400 };

  it("must be plain text: a lone surrogate or a control character is refused as bad_sub", async () => {
    for (const sub of ["\ud800", "\udfff", "alice\udc00", "\udc00\ud800", "a\u0000b", "a\nb", "a\u007f", "\u009b"]) {
      const logs = captureConsole();
      const err = await verifyEndUserJwt(await hs256({ alg: "HS256" }, claims({ sub })), settings).catch((e) => e);
      logs.restore();
      // Only plain values in the assertions: a lone surrogate in a failure message breaks the test runner's transport.
      expect(isFailure(err, "unauthorized")).toBe(true);
      expect(logs.json().map((l) => [l.event, l.reason])).toEqual([["auth.jwt_rejected", "bad_sub"]]);
    }
    // U+FFFD and a surrogate pair are well-formed: only what would change on encoding is refused.
    for (const sub of ["\ufffd", "\ud83d\ude00"]) {
      await expect(verifyEndUserJwt(await hs256({ alg: "HS256" }, claims({ sub })), settings)).resolves.toEqual({
        subject: sub,
      });
    }
  });
});

describe("what is logged and answered", () => {
  it("never logs or returns the token, whatever the failure", async () => {
    const settings = { issuer: ISSUER, audience: AUDIENCE, hs256Secret: SECRET, maxLifetimeSeconds: 86_400 };
    const tokens = [
      await hs256({ alg: "HS256" }, claims({ exp: now() - 3600 })),
      await hs256({ alg: "HS256", typ: "dpop+jwt" }, claims()),
      await hs256({ alg: "HS256" }, claims({ aud: "other" })),
      `${(await hs256({ alg: "HS256" }, claims())).slice(0, -2)}AA`,
    ];
    const logs = captureConsole();
    const messages: string[] = [];
    for (const token of tokens) {
      const err = await verifyEndUserJwt(token, settings).catch((e: unknown) => e);
      messages.push(String((err as Error).message));
    }
    logs.restore();
    expect(messages[0]).toBe("the token has expired");
    expect(messages.slice(1).every((m) => m === "the token is not valid")).toBe(true);
    expect(logs.json().map((l) => l.reason)).toEqual(["expired", "bad_header", "bad_aud", "bad_signature"]);
    for (const token of tokens) {
      for (const segment of token.split(".")) {
        expect(logs.raw.join("\n")).not.toContain(segment);
        expect(messages.join("\n")).not.toContain(segment);
      }
    }
  });
});

describe("dev tokens", () => {
  it("are HS256 with typ JWT and the same claims, and verify", async () => {
    const t = Date.now();
    const token = await mintDevJwt({
      secret: "PRIVATE-looking-secret-that-is-long-enough",
      issuer: ISSUER,
      audience: AUDIENCE,
      subject: "bob",
      ttlSeconds: 300,
      now: t,
    });
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" });
    const settings = {
      issuer: ISSUER,
      audience: AUDIENCE,
      hs256Secret: "PRIVATE-looking-secret-that-is-long-enough",
      maxLifetimeSeconds: 86_400,
    };
    await expect(verifyEndUserJwt(token, settings)).resolves.toEqual({ subject: "bob" });
    const payload = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    expect(payload).toEqual({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "bob",
      iat: Math.floor(t / 1000),
      exp: Math.floor(t / 1000) + 300,
    });
  });
});
