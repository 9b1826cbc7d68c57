// Internal callers through Cloudflare Access: service-token JWTs in Cf-Access-Jwt-Assertion, verified
// against a JWKS the emulator serves (the real one is on the internet, which tests cannot reach).
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from "jose";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { sha256Hex } from "../src/crypto/hex";
import { call, envelope, KEYS_PATH, ORIGIN } from "./support/api";
import { emulator } from "./support/emulator";
import { CALLERS } from "./support/fixtures";
import { captureConsole } from "./support/logs";
import { resetWorld } from "./support/reset";
import { expectError } from "./support/vend";

const TEAM_DOMAIN = "turnvend-test.cloudflareaccess.com";
const ISSUER = `https://${TEAM_DOMAIN}`;
const AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
const OPS_CN = "88bf3b6d86161464f6509f7219099e57.access";
const AUDITOR_CN = "0f3e8a1c2b9d4e5f6a7b8c9d0e1f2a3b.access";
const ACCESS_CALLERS = JSON.stringify([
  { common_name: OPS_CN, id: "ops-bot", scopes: ["keys:read", "keys:write"] },
  { common_name: AUDITOR_CN, id: "audit-bot", scopes: ["audit:read"] },
]);
const UNAUTHORIZED = 10010;
const FORBIDDEN = 10011;
const IDP_UNAVAILABLE = 10037;
const NOT_CONFIGURED = 10033;
const COOLDOWN_MS = 30_000;

const emulatorUrl = () => (env as unknown as { EMULATOR_URL: string }).EMULATOR_URL;

const jwksControl = {
  set: async (keys: JWK[]) => {
    const res = await fetch(`${emulatorUrl()}/__emulator/jwks`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ keys }),
    });
    expect(res.status).toBe(200);
  },
  unset: async () => {
    expect((await fetch(`${emulatorUrl()}/__emulator/jwks`, { method: "DELETE" })).status).toBe(200);
  },
  fetches: async () =>
    ((await (await fetch(`${emulatorUrl()}/__emulator/jwks/fetches`)).json()) as { fetches: number }).fetches,
};

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

let current: SigningKey;
let rotated: SigningKey;
let stranger: SigningKey;

beforeAll(async () => {
  [current, rotated, stranger] = await Promise.all([
    signingKey("current"),
    signingKey("rotated"),
    signingKey("stranger"),
  ]);
});

/** A service token as Access mints it; override any claim, or drop one with `undefined`. */
async function accessJwt(claims: Record<string, unknown> = {}, key: SigningKey = current): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    type: "app",
    aud: [AUD],
    iss: ISSUER,
    common_name: OPS_CN,
    sub: "",
    iat: now,
    nbf: now,
    exp: now + 600,
    ...claims,
  };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  return new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid: key.kid }).sign(key.privateKey);
}

/**
 * An environment with Access on. Each scenario gets its own JWKS URL (the emulator ignores the query),
 * so the Worker's per-isolate key-set cache starts empty, and its own env object (config is cached per env).
 */
function accessEnv(overrides: Partial<Record<keyof Env, string>> = {}): Env {
  return {
    ...env,
    ACCESS_TEAM_DOMAIN: TEAM_DOMAIN,
    ACCESS_AUD: AUD,
    ACCESS_CALLERS,
    ACCESS_JWKS_URL: `${emulatorUrl()}/__emulator/jwks?scenario=${crypto.randomUUID()}`,
    ...overrides,
  } as Env;
}

async function listKeys(workerEnv: Env, headers: Record<string, string>): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(ORIGIN + KEYS_PATH, { headers }), workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const viaAccess = (token: string) => ({ "cf-access-jwt-assertion": token });

/** Asserts a refusal (401 unless told) that cost no upstream call. */
async function expectRefused(res: Response, code = UNAUTHORIZED, status = 401) {
  await expectError(res, status, code);
  expect((await emulator.calls()).total).toBe(0);
}

beforeEach(async () => {
  await resetWorld();
  await jwksControl.set([current.jwk]);
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Moves Date.now() `ms` ahead for the rest of the test (mocks are restored after each test). */
function advanceClock(ms: number) {
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, "now").mockImplementation(() => realNow() + ms);
}

describe("a valid Access service token authenticates as the caller its common_name maps to", () => {
  it("lists keys with the mapped caller's scopes, fetching the JWKS once", async () => {
    const logs = captureConsole();
    const workerEnv = accessEnv();
    const first = await listKeys(workerEnv, viaAccess(await accessJwt()));
    const second = await listKeys(workerEnv, viaAccess(await accessJwt()));
    logs.restore();
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(await jwksControl.fetches()).toBe(1);
    const requests = logs.json().filter((l) => l.event === "request");
    expect(requests.map((l) => l.caller)).toEqual(["ops-bot", "ops-bot"]);
  });

  it("answers 403 when the mapped caller lacks the route's scope, without calling upstream", async () => {
    const res = await listKeys(accessEnv(), viaAccess(await accessJwt({ common_name: AUDITOR_CN })));
    await expectRefused(res, FORBIDDEN, 403);
  });

  it("uses the caller token when Authorization is present, whatever the Access header says", async () => {
    const res = await listKeys(accessEnv(), {
      authorization: `Bearer ${CALLERS.reader.token}`,
      ...viaAccess(await accessJwt({ common_name: AUDITOR_CN })),
    });
    expect(res.status).toBe(200);
  });
});

describe("an Access caller given a caller token's id is still another caller", () => {
  /**
   * The operator moved the id "writer" from its caller token (keys:write) to an Access service token that
   * also holds keys:reveal: a valid configuration, in which the two are different callers.
   */
  async function movedIdEnv(): Promise<Env> {
    const callers = await Promise.all(
      (["admin", "reader"] as const).map(async (id) => ({
        id,
        token_sha256: await sha256Hex(CALLERS[id].token),
        scopes: [...CALLERS[id].scopes],
      })),
    );
    return accessEnv({
      CALLERS: JSON.stringify(callers),
      ACCESS_CALLERS: JSON.stringify([
        { common_name: OPS_CN, id: "writer", scopes: ["keys:read", "keys:write", "keys:reveal"] },
      ]),
    });
  }

  async function createViaAccess(workerEnv: Env, idempotencyKey: string): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(ORIGIN + KEYS_PATH, {
        method: "POST",
        headers: {
          ...viaAccess(await accessJwt()),
          "content-type": "application/json",
          "idempotency-key": idempotencyKey,
        },
        body: JSON.stringify({ name: "room" }),
      }),
      workerEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res;
  }

  const createAsWriter = (idempotencyKey: string) =>
    call(KEYS_PATH, { as: "writer", body: { name: "room" }, headers: { "idempotency-key": idempotencyKey } });

  it("does not replay the caller token's create, so it never sees that key's secret", async () => {
    const first = await createAsWriter("idem-1");
    expect(first.status).toBe(201);
    const firstKey = (await envelope<{ uid: string; key?: string }>(first)).result;
    expect(firstKey.key).toBeUndefined();

    const res = await createViaAccess(await movedIdEnv(), "idem-1");
    expect(res.status).toBe(201);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    const { result } = await envelope<{ uid: string; key: string }>(res);
    expect(result.uid).not.toBe(firstKey.uid);
    expect((await emulator.calls())["turn_keys.create"]).toBe(2);
  });

  it("does not adopt the caller token's key when its own create's answer was lost", async () => {
    const first = await createAsWriter("idem-2");
    const firstUid = (await envelope<{ uid: string }>(first)).result.uid;

    const workerEnv = await movedIdEnv();
    await emulator.fault({ route: "turn_keys.create", loseReply: true });
    expect((await createViaAccess(workerEnv, "idem-2")).status).toBe(503);
    const retry = await createViaAccess(workerEnv, "idem-2");
    expect(retry.status).toBe(201);
    expect((await envelope<{ uid: string }>(retry)).result.uid).not.toBe(firstUid);
    expect((await emulator.state()).keys.map((k) => k.uid)).toContain(firstUid);
  });
});

describe("every other Access token is refused with 401, before any upstream call", () => {
  it.each([
    [
      "a token for another Access application (aud)",
      { aud: ["0000000000000000000000000000000000000000000000000000000000000000"] },
    ],
    ["a token from another team (iss)", { iss: "https://other-team.cloudflareaccess.com" }],
    [
      "an expired token (beyond the clock tolerance)",
      { iat: Math.floor(Date.now() / 1000) - 3600, nbf: undefined, exp: Math.floor(Date.now() / 1000) - 300 },
    ],
    ["a token without exp", { exp: undefined }],
    [
      "a service token whose common_name is not in ACCESS_CALLERS",
      { common_name: "ffffffffffffffffffffffffffffffff.access" },
    ],
    [
      "a user's Access token (no common_name)",
      { common_name: undefined, email: "someone@example.com", sub: "7335d417-61da-459d-899c-0a01c76a2f94" },
    ],
  ])("refuses %s", async (_label, claims) => {
    const res = await listKeys(accessEnv(), viaAccess(await accessJwt(claims)));
    await expectRefused(res);
  });

  it("refuses an HS256 token, even one keyed with the RSA public key, without fetching the JWKS", async () => {
    const secret = new TextEncoder().encode(JSON.stringify(current.jwk));
    const token = await new SignJWT({ common_name: OPS_CN })
      .setProtectedHeader({ alg: "HS256", kid: current.kid })
      .setIssuer(ISSUER)
      .setAudience(AUD)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(secret);
    await expectRefused(await listKeys(accessEnv(), viaAccess(token)));
    expect(await jwksControl.fetches()).toBe(0);
  });

  it("refuses an unsigned token (alg none) without fetching the JWKS", async () => {
    const token = new UnsecuredJWT({ common_name: OPS_CN })
      .setIssuer(ISSUER)
      .setAudience(AUD)
      .setIssuedAt()
      .setExpirationTime("10m")
      .encode();
    await expectRefused(await listKeys(accessEnv(), viaAccess(token)));
    expect(await jwksControl.fetches()).toBe(0);
  });

  it("refuses a token signed by a key that is not in the JWKS", async () => {
    const forged = await accessJwt({}, { ...stranger, kid: current.kid });
    await expectRefused(await listKeys(accessEnv(), viaAccess(forged)));
  });

  it("refuses garbage and oversized values in the header", async () => {
    const workerEnv = accessEnv();
    await expectRefused(await listKeys(workerEnv, viaAccess("not-a-jwt")));
    await expectRefused(await listKeys(workerEnv, viaAccess(`${await accessJwt()}.x`)));
    await expectRefused(await listKeys(workerEnv, viaAccess(await accessJwt({ pad: "x".repeat(9_000) }))));
  });
});

describe("an Access JWT is accepted only in Cf-Access-Jwt-Assertion", () => {
  it("refuses a valid Access JWT sent as Authorization: Bearer", async () => {
    await expectRefused(await listKeys(accessEnv(), { authorization: `Bearer ${await accessJwt()}` }));
  });

  it("refuses a malformed Authorization header even next to a valid Access JWT", async () => {
    await expectRefused(
      await listKeys(accessEnv(), { authorization: "Basic b3BzOmJvdA==", ...viaAccess(await accessJwt()) }),
    );
  });

  it("ignores the Access header when Access is not configured", async () => {
    const res = await listKeys({ ...env } as Env, viaAccess(await accessJwt()));
    await expectRefused(res);
    expect(await jwksControl.fetches()).toBe(0);
  });
});

describe("unknown kids refetch the JWKS at most every 30 seconds", () => {
  /** Moves the clock jose reads for its JWKS cache (Date.now) forward; token validity uses `new Date()`. */
  it("refetches once for an unknown kid after the cooldown, then refuses; a second unknown kid does not refetch", async () => {
    const workerEnv = accessEnv();
    // A verified token whose caller lacks keys:read: it loads the JWKS without any upstream call.
    await expectRefused(
      await listKeys(workerEnv, viaAccess(await accessJwt({ common_name: AUDITOR_CN }))),
      FORBIDDEN,
      403,
    );
    expect(await jwksControl.fetches()).toBe(1);

    // Within 30 s of the fetch an unknown kid costs no fetch at all.
    await expectRefused(await listKeys(workerEnv, viaAccess(await accessJwt({}, stranger))));
    expect(await jwksControl.fetches()).toBe(1);

    advanceClock(COOLDOWN_MS + 1_000);
    await expectRefused(await listKeys(workerEnv, viaAccess(await accessJwt({}, stranger))));
    expect(await jwksControl.fetches()).toBe(2);
    await expectRefused(
      await listKeys(workerEnv, viaAccess(await accessJwt({}, { ...stranger, kid: "another-stranger" }))),
    );
    expect(await jwksControl.fetches()).toBe(2);
  });

  it("picks up a rotated signing key through that refetch", async () => {
    const workerEnv = accessEnv();
    expect((await listKeys(workerEnv, viaAccess(await accessJwt()))).status).toBe(200);
    await jwksControl.set([current.jwk, rotated.jwk]);
    advanceClock(COOLDOWN_MS + 1_000);
    const res = await listKeys(workerEnv, viaAccess(await accessJwt({}, rotated)));
    expect(res.status).toBe(200);
    expect(await jwksControl.fetches()).toBe(2);
  });
});

describe("when the JWKS cannot be fetched, Access tokens fail closed", () => {
  it("answers 503 with Retry-After, never accepting, when nothing is cached", async () => {
    await jwksControl.unset();
    const workerEnv = accessEnv();
    const res = await listKeys(workerEnv, viaAccess(await accessJwt()));
    expect(res.headers.get("Retry-After")).toBe("5");
    await expectRefused(res, IDP_UNAVAILABLE, 503);

    // A failure is remembered for the cooldown, so an outage is not hammered: the JWKS is back, but the
    // next request within 30 s still gets 503 without a fetch; after that, the next one fetches and succeeds.
    await jwksControl.set([current.jwk]);
    const fetchesBefore = await jwksControl.fetches();
    expect((await listKeys(workerEnv, viaAccess(await accessJwt()))).status).toBe(503);
    expect(await jwksControl.fetches()).toBe(fetchesBefore);
    advanceClock(COOLDOWN_MS + 1_000);
    expect((await listKeys(workerEnv, viaAccess(await accessJwt()))).status).toBe(200);
    expect(await jwksControl.fetches()).toBe(fetchesBefore + 1);
  });

  it("keeps verifying with keys already cached while the JWKS is down", async () => {
    const workerEnv = accessEnv();
    expect((await listKeys(workerEnv, viaAccess(await accessJwt()))).status).toBe(200);
    await jwksControl.unset();
    expect((await listKeys(workerEnv, viaAccess(await accessJwt()))).status).toBe(200);
    expect(await jwksControl.fetches()).toBe(1);
  });

  it("answers 401, not 503, when the JWKS is served but holds no key (nothing to trust)", async () => {
    await jwksControl.set([]);
    await expectRefused(await listKeys(accessEnv(), viaAccess(await accessJwt())));
  });
});

describe("Access settings are validated; a half-configured Access fails closed", () => {
  it.each([
    ["only ACCESS_AUD set", { ACCESS_TEAM_DOMAIN: "", ACCESS_CALLERS: "", ACCESS_JWKS_URL: "" }],
    ["a team domain outside cloudflareaccess.com", { ACCESS_TEAM_DOMAIN: "turnvend-test.example.com" }],
    ["a team domain given as a URL", { ACCESS_TEAM_DOMAIN: `https://${TEAM_DOMAIN}` }],
    ["an http JWKS override off loopback", { ACCESS_JWKS_URL: "http://jwks.example.com/certs" }],
    [
      "ACCESS_CALLERS with an unknown scope",
      { ACCESS_CALLERS: JSON.stringify([{ common_name: OPS_CN, id: "ops-bot", scopes: ["keys:everything"] }]) },
    ],
    [
      "ACCESS_CALLERS naming one common_name twice",
      {
        ACCESS_CALLERS: JSON.stringify([
          { common_name: OPS_CN, id: "a", scopes: [] },
          { common_name: OPS_CN, id: "b", scopes: [] },
        ]),
      },
    ],
  ])("answers 503 not_configured with %s", async (_label, overrides) => {
    const res = await listKeys(accessEnv(overrides), viaAccess(await accessJwt()));
    await expectRefused(res, NOT_CONFIGURED, 503);
    expect(await jwksControl.fetches()).toBe(0);
  });
});
