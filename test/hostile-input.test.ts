// Hostile input: arbitrary methods, paths, headers and bodies at every route, and the specific
// attacks one by one. Whatever arrives, turnvend answers with a 4xx in the v4 envelope (never a 5xx),
// refuses invalid input before any upstream call, and never puts a secret in an answer.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { BODY_MAX_BYTES, BODY_READ_TIMEOUT_MS } from "../src/constants";
import { KEY_ID_PATTERN } from "../src/ids";
import type { Failure } from "../src/errors";
import { statusOf } from "../src/http/codes";
import { readLimitedText } from "../src/http/json-body";
import { KeySecrets } from "../src/storage/key-secrets";
import { call, envelope, fromAssets, KEYS_PATH, ORIGIN } from "./support/api";
import { emulator } from "./support/emulator";
import { ACCOUNT_ID, CALLERS, KEY_ENCRYPTION_KEY, SECRET_VALUES } from "./support/fixtures";
import {
  authorizationArb,
  bodyArb,
  buildRequest,
  contentTypeArb,
  describeSpec,
  expectFailureEnvelope,
  expectSecurityHeaders,
  FIXED_PATHS,
  headerValueArb,
  leakedSecrets,
  methodArb,
  noiseHeadersArb,
  pathArb,
  plausibleSpecArb,
  routes,
  type RequestSpec,
  type Route,
} from "./support/hostile";
import { resetWorld } from "./support/reset";
import {
  activeVendingKey,
  ACTIVE_KEY_PATH,
  expectError,
  freshSubject,
  REVOKE_PATH,
  userJwt,
  VEND_PATH,
} from "./support/vend";

const CODES = {
  invalid_request: 10001,
  invalid_json: 10002,
  unknown_field: 10003,
  unauthorized: 10010,
  payload_too_large: 10024,
  unsupported_media_type: 10025,
};
/** Runs per property: enough to reach every route with every family of input, small enough to stay well under a minute. */
const RUNS = 300;
const adminAuth = `Bearer ${CALLERS.admin.token}`;

beforeEach(() => resetWorld());

/** Upstream calls since the last reset. */
const upstreamCalls = async () => (await emulator.calls()).total;

/**
 * Keys in every state a request can meet: the vending key (active, in custody; kept out of generated paths
 * so a random DELETE cannot turn vending into a legitimate 503), an adopted key, a key made elsewhere with no
 * secret in custody, and one created through turnvend. Every secret involved is returned.
 */
async function hostileWorld() {
  const vending = await activeVendingKey();
  const adopted = await emulator.createOutOfBand("adopted");
  expect((await call(`/v1/keys/${adopted.uid}/secret`, { method: "PUT", body: { key: adopted.key } })).status).toBe(
    200,
  );
  const bystander = await emulator.createOutOfBand("bystander");
  const created = await envelope<{ uid: string; key: string }>(
    await call(KEYS_PATH, { method: "POST", body: { name: "created" } }),
  );
  return {
    ids: [adopted.uid, bystander.uid, created.result.uid],
    secrets: [...SECRET_VALUES, vending.key, adopted.key, bystander.key, created.result.key],
  };
}

/** Every secret turnvend holds in custody right now, decrypted. */
async function custodySecrets(): Promise<string[]> {
  const store = new KeySecrets(env.TURNVEND_KV, KEY_ENCRYPTION_KEY);
  const out: string[] = [];
  for (const keyId of (await store.owners()).keys()) {
    const secret = await store.load(keyId);
    if (secret) out.push(secret);
  }
  return out;
}

/** Sends a spec; undefined when the platform cannot even build the request. */
async function send(spec: RequestSpec): Promise<{ method: string; res: Response; text: string } | undefined> {
  const req = buildRequest(spec);
  if (!req) return undefined;
  const res = await SELF.fetch(req);
  return { method: req.method, res, text: await res.text() };
}

describe("arbitrary requests at every route (property-based)", () => {
  it("never answer 5xx, always carry the envelope and security headers, and never hold a secret, with or without a valid token", async () => {
    const world = await hostileWorld();
    const endUser = await userJwt(freshSubject("fuzz"));
    // Every role but admin: admin holds keys:reveal, so a create it sends legitimately returns that key's new secret.
    const authorization = authorizationArb(["reader", "writer", "issuer", "revoker", "auditor"], [endUser]);
    // Real routes with their own methods and fields (keys but the vending one), or anything at all.
    const table = world.ids
      .flatMap((id) => routes(id))
      .filter((r, i, all) => all.findIndex((o) => o.path === r.path) === i);
    const randomArb: fc.Arbitrary<RequestSpec> = fc
      .record({
        method: methodArb,
        path: pathArb(world.ids),
        authorization,
        contentType: fc.option(contentTypeArb, { nil: undefined }),
        noise: noiseHeadersArb(),
        body: bodyArb,
      })
      .map(({ method, path, authorization, contentType, noise, body }) => ({
        method,
        path,
        headers: [
          ...(authorization === undefined ? [] : [["authorization", authorization] as [string, string]]),
          ...(contentType === undefined ? [] : [["content-type", contentType] as [string, string]]),
          ...noise,
        ],
        body,
      }));
    const specArb = fc.oneof(
      { weight: 3, arbitrary: plausibleSpecArb(table, authorization, noiseHeadersArb()) },
      { weight: 2, arbitrary: randomArb },
    );

    const transcript: string[] = [];
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(specArb, async (spec) => {
        const sent = await send(spec);
        if (!sent) return;
        const { method, res, text } = sent;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        transcript.push(text + [...res.headers].join("\n"));
        expect(res.status, describeSpec(spec)).toBeLessThan(500);
        expectSecurityHeaders(res);
        // HEAD answers carry no body by definition; every other failure is the envelope.
        if (res.status >= 400 && method !== "HEAD") expectFailureEnvelope(res, text);
        expect(leakedSecrets(res, text, world.secrets), describeSpec(spec)).toEqual([]);
      }),
      { numRuns: RUNS },
    );
    console.info(JSON.stringify({ event: "test.hostile.statuses", statuses: Object.fromEntries(statuses) }));

    // The generators reach the handlers, not only the refusals.
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
    // Keys created during the run (by the writer, who may not see secrets) have secrets too: none was ever shown.
    const held = await custodySecrets();
    expect(held.length).toBeGreaterThanOrEqual(1);
    for (const secret of held) expect(transcript.filter((t) => t.includes(secret))).toEqual([]);
  }, 60_000);

  it("refuse invalid input with a 4xx in the envelope, before any upstream call", async () => {
    const world = await hostileWorld();
    const endUser = await userJwt(freshSubject("fuzz"));
    const uid = world.ids[0];
    const before = await upstreamCalls();
    const quietNoise = noiseHeadersArb().map((hs) => hs.filter(([name]) => name.toLowerCase() !== "origin"));
    const statuses = new Map<number, number>();

    await fc.assert(
      fc.asyncProperty(invalidRequestArb(uid, endUser, quietNoise, pathArb(world.ids)), async (spec) => {
        const start = await upstreamCalls();
        const sent = await send(spec);
        if (!sent) return;
        const { method, res, text } = sent;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, describeSpec(spec)).toBeGreaterThanOrEqual(400);
        expect(res.status, describeSpec(spec)).toBeLessThan(500);
        expectSecurityHeaders(res);
        if (method !== "HEAD") expectFailureEnvelope(res, text);
        expect(await upstreamCalls(), describeSpec(spec)).toBe(start);
      }),
      { numRuns: RUNS },
    );
    console.info(JSON.stringify({ event: "test.hostile.statuses", statuses: Object.fromEntries(statuses) }));
    expect(await upstreamCalls()).toBe(before);
  }, 60_000);
});

// --- Invalid requests by construction -------------------------------------------------------------

/** The method as the platform normalizes it, or undefined when it cannot be sent at all. */
function normalized(method: string): string | undefined {
  try {
    return new Request(ORIGIN, { method }).method;
  } catch {
    return undefined;
  }
}

/** Values a field can never take, per field. Each one is refused by the schema or the handler. */
const INVALID_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  name: fc.oneof(
    fc.constantFrom(5, true, null, [], {}, "n".repeat(201)),
    fc
      .tuple(
        fc.string({ maxLength: 20 }),
        fc.constantFrom("\r", "\n", "\u0000", "\u001b", "\u007f", "\u0085", "\u009b"),
        fc.string({ maxLength: 20 }),
      )
      .map((parts) => parts.join("")),
  ),
  key: fc.oneof(
    fc.string().filter((s) => s.length !== 64),
    fc.constantFrom(64, null, []),
  ),
  key_id: fc.oneof(
    fc.string().filter((s) => !KEY_ID_PATTERN.test(s)),
    fc.constantFrom(1, null),
  ),
  subject: fc.oneof(fc.constant(""), fc.constant("s".repeat(257)), fc.constantFrom(1, null, [], {})),
  username: fc.oneof(fc.constant(""), fc.constant("u".repeat(257)), fc.constantFrom(1, null)),
  ttl: fc.constantFrom("abc", -5, 1e9, 3.5, true, [], {}, "3600"),
};

const looksLikeJsonType = (type: string) => /^application\/json\s*(;|$)/i.test(type);

/** A body no route accepts, whichever of the route's fields it uses. Returns [content-type, body]. */
function invalidBodyArb(route: Route): fc.Arbitrary<[string, string | Uint8Array]> {
  const fields = route.fields ?? [];
  const json = (body: fc.Arbitrary<string | Uint8Array>) =>
    body.map((b) => ["application/json", b] as [string, string | Uint8Array]);
  const families: fc.Arbitrary<[string, string | Uint8Array]>[] = [
    // Not JSON at all.
    json(fc.string({ unit: "binary", minLength: 1, maxLength: 100 }).filter((s) => s.trim() !== "" && !parses(s))),
    // JSON, but not an object.
    json(
      fc
        .jsonValue()
        .filter((v) => typeof v !== "object" || v === null || Array.isArray(v))
        .map((v) => JSON.stringify(v)),
    ),
    // An unknown field, possibly next to known ones.
    json(
      fc
        .tuple(
          fc.string({ maxLength: 20 }).filter((k) => !fields.includes(k)),
          fc.jsonValue({ maxDepth: 2 }),
        )
        .map(([k, v]) => `{${JSON.stringify(k)}:${JSON.stringify(v)}}`),
    ),
    json(
      fc.constantFrom(
        '{"__proto__":{"admin":true}}',
        '{"constructor":{"prototype":{"admin":true}}}',
        '{"prototype":1}',
      ),
    ),
    // A key twice.
    json(
      fc
        .tuple(fc.constantFrom(...fields, "x"), fc.jsonValue({ maxDepth: 1 }), fc.jsonValue({ maxDepth: 1 }))
        .map(([k, a, b]) => `{"${k}":${JSON.stringify(a)},"${k}":${JSON.stringify(b)}}`),
    ),
    // Too large, even when well-formed.
    json(fc.constantFrom(BODY_MAX_BYTES, 50_000).map((n) => JSON.stringify({ [fields[0] ?? "x"]: "x".repeat(n) }))),
    // Not UTF-8.
    json(fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) => Uint8Array.of(0x7b, 0xff, ...b))),
    // A perfectly good JSON object under a content type that is not JSON.
    fc
      .tuple(
        contentTypeArb.filter((t) => !looksLikeJsonType(t)),
        fc.constant(JSON.stringify(Object.fromEntries(fields.slice(0, 1).map((f) => [f, "x"]))) + " "),
      )
      .map(([t, b]) => [t, b === "{} " ? '{"x":1}' : b] as [string, string]),
  ];
  if (fields.length > 0) {
    // A known field with a value it can never take.
    families.push(
      json(fc.constantFrom(...fields).chain((f) => INVALID_VALUES[f].map((v) => JSON.stringify({ [f]: v })))),
    );
  }
  if (route.emptyInvalid) families.push(json(fc.constantFrom("", "{}", "  ")));
  if (route.path === REVOKE_PATH) families.push(json(fc.constant(JSON.stringify({ username: "u", subject: "s" }))));
  return fc.oneof(...families);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Whether a path could reach a route with well-formed parameters, under any decoding the router might apply. */
function mayReachRoute(path: string): boolean {
  let pathname: string;
  try {
    pathname = new URL(ORIGIN + path).pathname;
  } catch {
    return false;
  }
  const decodings = new Set([pathname, pathname.replace(/\/{2,}/g, "/")]);
  for (const p of [...decodings]) {
    decodings.add(p.split("/").map(tryDecode).join("/"));
    decodings.add(tryDecode(p));
  }
  for (const p of decodings) {
    if (FIXED_PATHS.includes(p)) return true;
    const keys = /^\/client\/v4\/accounts\/([^/]*)\/calls\/turn_keys(?:\/([^/]*))?$/.exec(p);
    if (keys && tryDecode(keys[1]) === ACCOUNT_ID && (keys[2] === undefined || KEY_ID_PATTERN.test(tryDecode(keys[2]))))
      return true;
    const secret = /^\/v1\/keys\/([^/]*)\/secret$/.exec(p);
    if (secret && KEY_ID_PATTERN.test(tryDecode(secret[1]))) return true;
  }
  return false;
}

function tryDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Requests that are invalid by construction, in four families: no valid credentials; a method the path does
 * not take; a path that names no route (or a malformed id, or another account); a body the route refuses.
 */
function invalidRequestArb(
  uid: string,
  endUserJwt: string,
  noise: fc.Arbitrary<[string, string][]>,
  anyPath: fc.Arbitrary<string>,
): fc.Arbitrary<RequestSpec> {
  const table = routes(uid);
  const guarded = table.filter((r) => !r.public);
  const withBody = table.filter((r) => r.fields);
  const spec = (
    method: string,
    path: string,
    headers: [string, string][],
    body?: string | Uint8Array,
  ): RequestSpec => ({ method, path, headers, body });

  // Mostly the route's own methods, so the refusal comes from authentication rather than routing.
  const unauthenticated = fc
    .constantFrom(...guarded)
    .chain((route) =>
      fc.tuple(
        fc.constant(route),
        fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...route.methods) }, { weight: 1, arbitrary: methodArb }),
      ),
    )
    .chain(([route, method]) =>
      fc.tuple(
        fc.constant(route),
        fc.constant(method),
        authorizationArb([]),
        noise,
        fc.option(contentTypeArb, { nil: undefined }),
        bodyArb,
        fc.boolean(),
      ),
    )
    .map(([route, method, auth, hs, type, body, jwtInstead]) => {
      // An end-user JWT is a credential on the vend route only; on admin routes it is one more wrong token.
      const authorization = jwtInstead && route.path !== VEND_PATH ? `Bearer ${endUserJwt}` : auth;
      const headers: [string, string][] = [...hs];
      if (authorization !== undefined) headers.push(["authorization", authorization]);
      if (type !== undefined) headers.push(["content-type", type]);
      return spec(method, route.path, headers, body);
    });

  const wrongMethod = fc
    .tuple(fc.constantFrom(...table), methodArb, noise, bodyArb)
    .filter(([route, method]) => {
      const m = normalized(method);
      // HEAD is GET without a body wherever GET is allowed.
      return m !== undefined && !route.methods.includes(m) && !(m === "HEAD" && route.methods.includes("GET"));
    })
    .map(([route, method, hs, body]) =>
      spec(method, route.path, [["authorization", adminAuth], ["content-type", "application/json"], ...hs], body),
    );

  const noRoute = fc
    .tuple(anyPath, methodArb, noise, bodyArb)
    .filter(([path]) => !mayReachRoute(path))
    .map(([path, method, hs, body]) => spec(method, path, [["authorization", adminAuth], ...hs], body));

  const badBody = fc
    .constantFrom(...withBody)
    .chain((route) =>
      fc.tuple(
        fc.constant(route),
        fc.constantFrom(...route.methods.filter((m) => m === "POST" || m === "PUT")),
        invalidBodyArb(route),
        noise.map((hs) => hs.filter(([name]) => !["content-type", "content-encoding"].includes(name.toLowerCase()))),
      ),
    )
    .map(([route, method, [type, body], hs]) =>
      spec(method, route.path, [["authorization", adminAuth], ["content-type", type], ...hs], body),
    );

  return fc.oneof(unauthenticated, wrongMethod, noRoute, badBody);
}

// --- Specific attacks ----------------------------------------------------------------------------

/** A test label with every character outside printable ASCII spelled as an escape. */
function printable(s: string): string {
  return `"${s.replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`)}"`;
}

/** Every route that reads a JSON body, with a body it would otherwise accept. */
function bodyRoutes(uid: string) {
  return [
    { method: "POST", path: KEYS_PATH },
    { method: "PUT", path: `${KEYS_PATH}/${uid}` },
    { method: "PUT", path: `/v1/keys/${uid}/secret` },
    { method: "PUT", path: ACTIVE_KEY_PATH },
    { method: "POST", path: REVOKE_PATH },
    { method: "POST", path: VEND_PATH },
  ];
}

describe("a value sent in the wrong field", () => {
  it("is never echoed in the 400: the message says what was expected, not what came", async () => {
    const misplaced = CALLERS.admin.token;
    const cases: { path: string; body: Record<string, unknown> }[] = [
      { path: KEYS_PATH, body: { name: ["room"], extra: 1 } },
      { path: KEYS_PATH, body: { name: { secret: misplaced } } },
      { path: "/v1/ice-servers", body: { subject: "u", ttl: misplaced } },
      { path: "/v1/ice-servers", body: { subject: "u", fresh: misplaced } },
      { path: "/v1/credentials/revoke", body: { username: 42, subject: misplaced } },
      { path: "/v1/guard", body: { action: "lift", seconds: misplaced } },
    ];
    for (const { path, body } of cases) {
      const res = await call(path, { method: path === "/v1/guard" ? "PUT" : "POST", body });
      const text = await res.text();
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(text, `${path} ${JSON.stringify(body)}`).not.toContain(misplaced);
    }
    const res = await call("/v1/ice-servers", { method: "POST", body: { subject: "u", fresh: misplaced } });
    expect((await envelope(res)).errors[0].message).toBe("fresh: Invalid type: Expected boolean");
  });
});

describe("__proto__ and constructor keys in JSON", () => {
  it("are unknown fields (400), change no prototype, and cost no upstream call", async () => {
    const uid = "0123456789abcdef0123456789abcdef";
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const bodies = [
      '{"__proto__":{"admin":true,"polluted":true}}',
      '{"constructor":{"prototype":{"admin":true,"polluted":true}}}',
      '{"name":"a","__proto__":{"admin":true}}',
      '{"__proto__":{"__proto__":{"polluted":true}}}',
      '{"prototype":{"polluted":true}}',
    ];
    for (const route of bodyRoutes(uid)) {
      for (const body of bodies) {
        const res = await call(route.path, { method: route.method, body });
        await expectError(res, 400, CODES.unknown_field);
      }
    }
    const probe = {} as Record<string, unknown>;
    expect(probe.admin).toBeUndefined();
    expect(probe.polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect(await upstreamCalls()).toBe(0);
  });
});

describe("duplicate JSON keys", () => {
  // JSON.parse keeps the last value, other parsers the first: a repeated key is ambiguous, so it is refused.
  it.each([
    ["the same key twice", '{"name":"a","name":"b"}', "name"],
    ["a key and its escaped spelling", '{"name":"a","\\u006eame":"b"}', "name"],
    ["a repeat of an unknown key", '{"x":1,"x":2}', "x"],
  ])("refuses %s with 400 invalid_json, naming the key, without calling upstream", async (_label, body, key) => {
    for (const route of bodyRoutes("0123456789abcdef0123456789abcdef")) {
      const res = await call(route.path, { method: route.method, body });
      const answer = await expectError(res, 400, CODES.invalid_json);
      expect(answer.errors[0].message).toContain(`"${key}"`);
    }
    expect(await upstreamCalls()).toBe(0);
  });

  it("leaves a body whose keys are distinct alone", async () => {
    const res = await call(REVOKE_PATH, { method: "POST", body: '{"subject":"s"}' });
    expect(res.status).toBe(200);
  });
});

describe("control and format characters in a key name", () => {
  /** A name refused on create and on update with 400, and no upstream call. */
  async function expectNameRefused(name: string) {
    await expectError(await call(KEYS_PATH, { method: "POST", body: { name } }), 400, CODES.invalid_request);
    await expectError(
      await call(`${KEYS_PATH}/0123456789abcdef0123456789abcdef`, { method: "PUT", body: { name } }),
      400,
      CODES.invalid_request,
    );
    expect(await upstreamCalls()).toBe(0);
  }

  const names = [
    "a\r\nX-Injected: 1",
    "line\nbreak",
    "nul\u0000",
    "esc\u001b[31m",
    "del\u007f",
    "nel\u0085",
    "csi\u009b",
  ];
  it.each(names.map((n) => [printable(n), n]))(
    "refuses %s on create and update with 400, without calling upstream",
    async (_label, name) => {
      await expectNameRefused(name);
    },
  );

  it("refuses an unpaired surrogate, which would reach Cloudflare as another name", async () => {
    await expectError(
      await call(KEYS_PATH, { method: "POST", body: '{"name":"a\\ud800b"}' }),
      400,
      CODES.invalid_request,
    );
    expect(await upstreamCalls()).toBe(0);
  });

  it.each([
    ["U+202E, right-to-left override", "invoice\u202Egpj.exe"],
    ["U+200B, zero-width space", "prod\u200Buction"],
    ["U+2066, left-to-right isolate", "a\u2066b"],
    ["U+FEFF, zero-width no-break space", "\uFEFFrooms"],
    ["U+2028, line separator", "a\u2028b"],
    ["U+2029, paragraph separator", "a\u2029b"],
  ])("refuses %s, which would spoof the name in a dashboard, without calling upstream", async (_label, name) => {
    await expectNameRefused(name);
  });

  it("keeps accepting printable unicode", async () => {
    const res = await call(KEYS_PATH, { method: "POST", body: { name: "café ☕ 会议室 😀" } });
    expect(res.status).toBe(201);
    expect((await envelope<{ name: string }>(res)).result.name).toBe("café ☕ 会议室 😀");
  });
});

describe("the charset of a JSON body", () => {
  it.each([
    "application/json; charset=utf-16",
    "application/json; charset=UTF-16LE",
    "application/json; charset=iso-8859-1",
    'application/json; charset="utf-16"',
    "application/json; charset=utf-8; charset=utf-16",
    "application/json; charset",
    "application/json; charset=",
  ])("refuses %s with 415, without calling upstream", async (type) => {
    const res = await call(KEYS_PATH, { method: "POST", body: '{"name":"n"}', headers: { "content-type": type } });
    await expectError(res, 415, CODES.unsupported_media_type);
    expect(await upstreamCalls()).toBe(0);
  });

  it.each([
    "application/json",
    "application/json;",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    'application/json; charset="utf-8"',
    "Application/JSON ; Charset=Utf-8",
    "application/json; profile=x",
  ])("reads %s as UTF-8", async (type) => {
    const res = await call(KEYS_PATH, { method: "POST", body: '{"name":"n"}', headers: { "content-type": type } });
    expect(res.status).toBe(201);
  });
});

describe("format characters in a subject", () => {
  it("are accepted: a subject is only hashed, never shown, and must match the user's JWT sub exactly", async () => {
    const res = await call(REVOKE_PATH, { as: "revoker", body: { subject: "\u{1F469}\u200D\u{1F4BB}" } });
    expect(res.status).toBe(200);
  });
});

describe("a 10 MB body", () => {
  const TEN_MB = 10 * 1024 * 1024;

  it("with a declared length gets 413 at once, on every route that takes a body, without calling upstream", async () => {
    const body = `{"name":"${"x".repeat(TEN_MB)}"}`;
    for (const route of bodyRoutes("0123456789abcdef0123456789abcdef")) {
      const started = Date.now();
      const res = await call(route.path, { method: route.method, body });
      await expectError(res, 413, CODES.payload_too_large);
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    expect(await upstreamCalls()).toBe(0);
  });

  it("streamed without a length gets 413 after reading little more than the limit", async () => {
    let produced = 0;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (produced >= TEN_MB) return controller.close();
          produced += 64 * 1024;
          controller.enqueue(new Uint8Array(64 * 1024).fill(0x61));
        },
      },
      { highWaterMark: 0 },
    );
    const started = Date.now();
    const res = await SELF.fetch(ORIGIN + KEYS_PATH, {
      method: "POST",
      body: stream,
      headers: { authorization: adminAuth, "content-type": "application/json" },
    });
    await expectError(res, 413, CODES.payload_too_large);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(produced).toBeLessThan(TEN_MB / 10);
    expect(await upstreamCalls()).toBe(0);
  });
});

describe("a slow-drip body", () => {
  /** A body that never ends: a few bytes every `everyMs`. */
  function drip(everyMs: number, first = '{"name":"') {
    const bytes = new TextEncoder();
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          await new Promise((r) => setTimeout(r, everyMs));
          controller.enqueue(bytes.encode(sent++ === 0 ? first : "ab"));
        },
      },
      { highWaterMark: 0 },
    );
    return { stream, sent: () => sent };
  }

  it(
    `is abandoned with 408 after BODY_READ_TIMEOUT_MS (${BODY_READ_TIMEOUT_MS} ms), without calling upstream`,
    async () => {
      const { stream } = drip(200);
      const started = Date.now();
      const res = await SELF.fetch(ORIGIN + KEYS_PATH, {
        method: "POST",
        body: stream,
        headers: { authorization: adminAuth, "content-type": "application/json" },
      });
      const elapsed = Date.now() - started;
      await expectError(res, 408, CODES.invalid_request);
      expect(elapsed).toBeGreaterThanOrEqual(BODY_READ_TIMEOUT_MS - 500);
      expect(elapsed).toBeLessThan(BODY_READ_TIMEOUT_MS + 3_000);
      expect(await upstreamCalls()).toBe(0);
    },
    BODY_READ_TIMEOUT_MS + 10_000,
  );

  it("is bounded by the deadline however it drips, while a prompt body within the limit reads whole", async () => {
    const slow = drip(20);
    const request = new Request(ORIGIN, { method: "POST", body: slow.stream });
    const started = Date.now();
    const late = await readLimitedText(request, BODY_MAX_BYTES, 300).catch((err: Failure) => err);
    expect(late).toMatchObject({ kind: "invalid_request" });
    expect(statusOf(late as Failure)).toBe(408);
    expect(Date.now() - started).toBeLessThan(1_000);

    const prompt = new Request(ORIGIN, { method: "POST", body: '{"name":"ok"}' });
    expect(await readLimitedText(prompt, BODY_MAX_BYTES, 300)).toBe('{"name":"ok"}');
  });

  it("that breaks off mid-way is a 400, not a crash", async () => {
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"name":'));
        controller.error(new Error("connection reset"));
      },
    });
    const err = await readLimitedText(
      new Request(ORIGIN, { method: "POST", body: broken }),
      BODY_MAX_BYTES,
      1_000,
    ).catch((e: Failure) => e);
    expect(err).toMatchObject({ kind: "invalid_request" });
    expect(statusOf(err as Failure)).toBe(400);
  });
});

describe("method-override headers", () => {
  const overrides = ["x-http-method-override", "x-http-method", "x-method-override"];

  it("are ignored: a POST stays a POST and a GET stays a GET, and the key survives", async () => {
    const created = await envelope<{ uid: string }>(
      await call(KEYS_PATH, { method: "POST", body: { name: "survivor" } }),
    );
    const path = `${KEYS_PATH}/${created.result.uid}`;
    for (const header of overrides) {
      // POST is not a method of the key route: 405, whatever the header says.
      const post = await call(path, { method: "POST", body: {}, headers: { [header]: "DELETE" } });
      await expectError(post, 405, 10022);
      const get = await call(path, { headers: { [header]: "DELETE" } });
      expect(get.status).toBe(200);
      expect((await envelope<{ uid: string; name: string }>(get)).result).toMatchObject({
        uid: created.result.uid,
        name: "survivor",
      });
    }
    // The query-string and form-field conventions are ignored too.
    expect((await call(`${path}?_method=DELETE`)).status).toBe(200);
    const form = await call(path, {
      method: "POST",
      body: "_method=DELETE",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    await expectError(form, 405, 10022);

    const calls = await emulator.calls();
    expect(calls["turn_keys.delete"]).toBe(0);
    expect((await emulator.state()).keys.map((k) => k.uid)).toContain(created.result.uid);
  });
});

describe("a bearer token with trailing junk", () => {
  const token = CALLERS.admin.token;
  const variants = [
    `Bearer ${token} junk`,
    `Bearer ${token}\tjunk`,
    `Bearer ${token},`,
    `Bearer  ${token}`,
    `Bearer ${token} ${token}`,
    `Bearer ${token}\u00a0`,
  ];

  it.each(variants.map((v) => [printable(v), v]))(
    "refuses Authorization: %s with 401 on admin and vend routes, without calling upstream",
    async (_label, authorization) => {
      for (const [method, path, body] of [
        ["GET", KEYS_PATH, undefined],
        ["GET", "/v1/audit", undefined],
        ["POST", VEND_PATH, { subject: "s" }],
      ] as const) {
        const res = await SELF.fetch(ORIGIN + path, {
          method,
          headers: { authorization, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        await expectError(res, 401, CODES.unauthorized);
      }
      expect(await upstreamCalls()).toBe(0);
    },
  );

  it("refuses two Authorization headers, even two copies of a valid one", async () => {
    const headers = new Headers();
    headers.append("authorization", `Bearer ${token}`);
    headers.append("authorization", `Bearer ${token}`);
    await expectError(await SELF.fetch(ORIGIN + KEYS_PATH, { headers }), 401, CODES.unauthorized);
    const mixed = new Headers();
    mixed.append("authorization", `Bearer ${token}`);
    mixed.append("authorization", "Bearer junk");
    await expectError(await SELF.fetch(ORIGIN + KEYS_PATH, { headers: mixed }), 401, CODES.unauthorized);
    expect(await upstreamCalls()).toBe(0);
  });

  it("cannot carry trailing whitespace: HTTP strips it from every header value before turnvend sees it", async () => {
    // RFC 9110 §5.5: a field value excludes leading and trailing whitespace, so "Bearer <token>\t" *is*
    // "Bearer <token>". The platform enforces it, so there is nothing for turnvend to refuse.
    const headers = new Headers({ authorization: `Bearer ${token}\t ` });
    expect(headers.get("authorization")).toBe(`Bearer ${token}`);
  });
});

describe("a JWT in the wrong header", () => {
  it("refuses an end-user JWT sent as a caller token to admin routes with 401", async () => {
    const jwt = await userJwt("alice");
    for (const path of [KEYS_PATH, `${KEYS_PATH}/0123456789abcdef0123456789abcdef`, "/v1/audit", ACTIVE_KEY_PATH]) {
      await expectError(await call(path, { as: { token: jwt } }), 401, CODES.unauthorized);
    }
    await expectError(
      await call(REVOKE_PATH, { as: { token: jwt }, method: "POST", body: { subject: "alice" } }),
      401,
      CODES.unauthorized,
    );
    expect(await upstreamCalls()).toBe(0);
  });

  it("refuses a caller token sent in Cf-Access-Jwt-Assertion with 401, with Access off and on", async () => {
    const headers = { "cf-access-jwt-assertion": CALLERS.admin.token };
    // Access off: the header means nothing, so the request has no credentials.
    await expectError(await call(KEYS_PATH, { as: "none", headers }), 401, CODES.unauthorized);
    // Access on: the header must hold an Access JWT, and a caller token is not one; nor is an end-user JWT.
    const accessOn = {
      ...env,
      ACCESS_TEAM_DOMAIN: "turnvend-test.cloudflareaccess.com",
      ACCESS_AUD: "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2",
      ACCESS_CALLERS: JSON.stringify([
        { common_name: "88bf3b6d86161464f6509f7219099e57.access", id: "ops-bot", scopes: ["keys:read"] },
      ]),
      ACCESS_JWKS_URL: `${(env as unknown as { EMULATOR_URL: string }).EMULATOR_URL}/__emulator/jwks?scenario=${crypto.randomUUID()}`,
    } as Env;
    for (const value of [CALLERS.admin.token, await userJwt("alice")]) {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(ORIGIN + KEYS_PATH, { headers: { "cf-access-jwt-assertion": value } }),
        accessOn,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      await expectError(res, 401, CODES.unauthorized);
    }
    expect(await upstreamCalls()).toBe(0);
  });
});

describe("security headers", () => {
  it("are on every kind of answer: success, each refusal, and the HTML page", async () => {
    const uid = "0123456789abcdef0123456789abcdef";
    const answers = [
      await call("/healthz", { as: "none" }),
      await fromAssets("/"),
      await call("/nowhere", { as: "none" }),
      await call(KEYS_PATH, { as: "none" }),
      await call(KEYS_PATH, { method: "PATCH", body: {} }),
      await call(`${KEYS_PATH}/${uid}`, { method: "PUT", body: "{" }),
      await call(KEYS_PATH, { method: "POST", body: { name: "x".repeat(BODY_MAX_BYTES) } }),
      await call(VEND_PATH, {
        as: "none",
        method: "OPTIONS",
        headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
      }),
      await call(VEND_PATH, { as: "none", method: "POST", body: {}, headers: { origin: "https://evil.example" } }),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 404, 401, 405, 400, 413, 204, 403]);
    for (const res of answers) expectSecurityHeaders(res);
  });

  it("give the HTML page a strict Content-Security-Policy", async () => {
    const res = await fromAssets("/");
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    const directives = new Map(
      csp
        .split(";")
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values]),
    );
    expect(directives.get("default-src")).toEqual(["'none'"]);
    expect(directives.get("base-uri")).toEqual(["'none'"]);
    expect(directives.get("form-action")).toEqual(["'none'"]);
    expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
    for (const name of ["script-src", "style-src"]) {
      const values = directives.get(name) ?? [];
      expect(values.length).toBeGreaterThan(0);
      // Only files from this origin: no inline escape hatch, no eval, no host allow-list.
      expect(values).toEqual(["'self'"]);
    }
    expect(csp).not.toMatch(/unsafe-|\*|https?:/);
  });

  it("are there whatever value a header holds, and nothing crashes (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          "authorization",
          "content-type",
          "cf-access-jwt-assertion",
          "cache-control",
          "idempotency-key",
          "origin",
          "cf-ray",
        ),
        headerValueArb,
        async (name, value) => {
          const res = await SELF.fetch(ORIGIN + KEYS_PATH, { headers: { [name]: value } });
          expect(res.status).toBeLessThan(500);
          expectSecurityHeaders(res);
        },
      ),
      { numRuns: 100 },
    );
    expect(await upstreamCalls()).toBe(0);
  });
});
