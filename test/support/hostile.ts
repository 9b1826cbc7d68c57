// Generators of hostile requests for the property-based tests, and the checks every answer must pass.
import fc from "fast-check";
import { expect } from "vitest";
import { ACCOUNT_ID, CALLERS, OTHER_ACCOUNT_ID, type Role } from "./fixtures";
import { KEYS_PATH, ORIGIN } from "./api";
import { ACTIVE_KEY_PATH, REVOKE_PATH, VEND_PATH } from "./vend";

/** One request as plain data, so fast-check can print and shrink it. */
export interface RequestSpec {
  method: string;
  path: string;
  headers: [string, string][];
  body?: string | Uint8Array;
}

// --- Methods -------------------------------------------------------------------------------------

/** Methods workerd can represent (it refuses any other token in `new Request`), and some it cannot. */
const KNOWN_METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
  "PURGE",
  "QUERY",
  "COPY",
  "LOCK",
  "MKCOL",
  "MOVE",
  "PROPFIND",
  "PROPPATCH",
  "SEARCH",
  "UNLOCK",
  "ACL",
  "REPORT",
  "MKACTIVITY",
  "CHECKOUT",
  "MERGE",
  "NOTIFY",
  "SUBSCRIBE",
  "UNSUBSCRIBE",
  "CONNECT",
  "M-SEARCH",
];

const TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split("");

/** Known methods in any letter case, and random tokens up to 400 characters. */
export const methodArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
      .chain((m) => fc.constantFrom(m, m.toLowerCase())),
  },
  {
    weight: 4,
    arbitrary: fc
      .constantFrom(...KNOWN_METHODS)
      .chain((m) => fc.constantFrom(m, m.toLowerCase(), m[0] + m.slice(1).toLowerCase())),
  },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...TCHAR), minLength: 1, maxLength: 400 }) },
);

// --- Paths ---------------------------------------------------------------------------------------

const hex32 = fc.string({ unit: fc.constantFrom(..."0123456789abcdef".split("")), minLength: 32, maxLength: 32 });

/** Path segments an attacker would try: traversal (plain, encoded, double-encoded, overlong), NUL, backslashes, unicode, broken escapes, huge. */
const HOSTILE_SEGMENTS = [
  "..",
  ".",
  "%2e%2e",
  "%2E%2E",
  "%252e%252e",
  "%25252e%25252e",
  ".%2e",
  "%2e.",
  "..%2f",
  "..%2F..%2Fuser%2Ftokens",
  "%2f",
  "%5c",
  "..\\..",
  "\\",
  "%00",
  "%0d%0a",
  "%c0%ae%c0%ae",
  "%e0%a4%a",
  "%zz",
  "%",
  "%%",
  "%u002e",
  "é",
  "😀",
  "%F0%9F%98%80",
  "\u202e",
  "%ef%bf%bd",
  ";",
  ";jsessionid=1",
  "*",
  "~",
  "%20",
  "+",
  "admin",
  "__proto__",
  "constructor",
  ACCOUNT_ID.toUpperCase(),
  `${ACCOUNT_ID}%00`,
  `${ACCOUNT_ID}/`,
];

export function segmentArb(realIds: string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    {
      weight: 1,
      arbitrary: fc.string({ unit: "binary", maxLength: 20 }).map((s) => encodeURIComponent(encodeURIComponent(s))),
    },
    { weight: 2, arbitrary: realIds.length > 0 ? fc.constantFrom(...realIds) : hex32 },
    { weight: 1, arbitrary: hex32 },
    { weight: 1, arbitrary: fc.constantFrom(9_000, 20_000).map((n) => "a".repeat(n)) },
  );
}

/** Every route prefix turnvend serves, with hostile segments where its parameters go. */
/** Routes without parameters. */
export const FIXED_PATHS = [
  "/v1/ice-servers",
  "/v1/credentials/revoke",
  "/v1/active-key",
  "/v1/audit",
  "/healthz",
  "/",
  "/v1/dev/jwt",
  "/openapi.json",
  "/ice-servers.js",
  "/connectivity.js",
  "/connectivity.css",
];

export function routePathArb(realIds: string[] = []): fc.Arbitrary<string> {
  const seg = segmentArb(realIds);
  const account = fc.oneof(fc.constant(ACCOUNT_ID), fc.constant(OTHER_ACCOUNT_ID), seg);
  return fc.oneof(
    account.map((a) => `/client/v4/accounts/${a}/calls/turn_keys`),
    fc.tuple(account, seg).map(([a, k]) => `/client/v4/accounts/${a}/calls/turn_keys/${k}`),
    seg.map((k) => `/v1/keys/${k}/secret`),
    fc.constantFrom(...FIXED_PATHS),
  );
}

/** A route path, then possibly mangled: extra segments, dot segments, backslashes, case, a query string. */
export function pathArb(realIds: string[] = []): fc.Arbitrary<string> {
  const seg = segmentArb(realIds);
  const mangle = fc.oneof(
    { weight: 4, arbitrary: fc.constant((p: string) => p) },
    { weight: 1, arbitrary: seg.map((s) => (p: string) => `${p}/${s}`) },
    { weight: 1, arbitrary: seg.map((s) => (p: string) => `/${s}${p}`) },
    { weight: 1, arbitrary: fc.constant((p: string) => `${p}/`) },
    { weight: 1, arbitrary: fc.constant((p: string) => p.replaceAll("/", "\\")) },
    { weight: 1, arbitrary: fc.constant((p: string) => p.replace(/\/([^/]*)$/, "/./x/../$1")) },
    { weight: 1, arbitrary: fc.constant((p: string) => p.toUpperCase()) },
    { weight: 1, arbitrary: fc.constant((p: string) => p.replaceAll("/", "//")) },
  );
  const query = fc.oneof(
    { weight: 4, arbitrary: fc.constant("") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "?_method=DELETE",
        "?limit=-1",
        "?limit=1000000",
        "?cursor=%00",
        "?sub=%0d%0a&ttl=1e9",
        "?%zz=%zz",
        "?__proto__[admin]=1",
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 60 }).map((s) => `?${s}`) },
    {
      weight: 1,
      arbitrary: fc
        .dictionary(
          fc.constantFrom("limit", "cursor", "sub", "ttl", "name"),
          fc.string({ unit: "binary", maxLength: 30 }),
        )
        .map((d) => `?${new URLSearchParams(d)}`),
    },
  );
  return fc.tuple(routePathArb(realIds), mangle, query).map(([p, m, q]) => m(p) + q);
}

// --- Headers -------------------------------------------------------------------------------------

/**
 * A header value the platform can carry: printable ASCII, tabs and stray controls; no CR, LF or NUL (the
 * platform refuses those). Non-ASCII is left out: workerd sends it as UTF-8 with a warning per value.
 */
export const headerValueArb = fc.string({
  unit: fc.oneof(
    { weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
    fc.constantFrom("\t", "\x01", "\x1b", "\x7f"),
  ),
  maxLength: 200,
});

const junkJwt = fc.oneof(
  fc.constantFrom(
    "a.b.c",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
    "eyJhbGciOiJIUzI1NiJ9..",
    "....",
    "e30.e30.e30",
  ),
  fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((parts) => parts.join(".")),
  headerValueArb,
);

/** What goes in Authorization: nothing, junk, or a real token mangled. `validRoles` are sent intact. */
export function authorizationArb(validRoles: Role[], extraValid: string[] = []): fc.Arbitrary<string | undefined> {
  const token = fc.constantFrom(...Object.values(CALLERS).map((c) => c.token));
  const arbs: fc.Arbitrary<string | undefined>[] = [
    fc.constant(undefined),
    headerValueArb,
    junkJwt.map((j) => `Bearer ${j}`),
    token.chain((t) =>
      fc.constantFrom(
        `Bearer ${t} junk`,
        `Bearer ${t}\tjunk`,
        `Bearer  ${t}`,
        `bearer${t}`,
        `Bearer ${t},`,
        `Bearer ${t}, Bearer ${t}`,
        `Basic ${btoa(`x:${t}`)}`,
        `Token ${t}`,
        t,
        `Bearer ${t}x`,
      ),
    ),
    fc.constantFrom("Bearer", "Bearer ", "Bearer =", `Bearer ${"A".repeat(10_000)}`),
  ];
  const weighted = arbs.map((arbitrary) => ({ weight: 1, arbitrary }));
  // Valid credentials about half the time, so requests get past authentication and into the handlers.
  if (validRoles.length > 0)
    weighted.push({ weight: 4, arbitrary: fc.constantFrom(...validRoles).map((r) => `Bearer ${CALLERS[r].token}`) });
  if (extraValid.length > 0)
    weighted.push({ weight: 1, arbitrary: fc.constantFrom(...extraValid.map((t) => `Bearer ${t}`)) });
  return fc.oneof(...weighted);
}

export const contentTypeArb = fc.oneof(
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/json;",
    "application/json; charset=utf-16",
    "application/jsonp",
    "application/json-patch+json",
    "text/json",
    "text/plain",
    "text/html",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
  ),
  headerValueArb,
);

/** Headers around the request: each optional, each hostile in its own way. */
export function noiseHeadersArb(): fc.Arbitrary<[string, string][]> {
  const optional = (name: string, value: fc.Arbitrary<string>) =>
    fc.option(
      value.map((v) => [name, v] as [string, string]),
      { nil: undefined },
    );
  const override = fc.constantFrom("DELETE", "PUT", "GET", "PATCH", "delete");
  const extra = fc.array(
    fc.tuple(fc.string({ unit: fc.constantFrom(...TCHAR), minLength: 1, maxLength: 30 }), headerValueArb),
    { maxLength: 3 },
  );
  return (
    fc
      .tuple(
        fc.tuple(
          optional("cf-access-jwt-assertion", junkJwt),
          optional("x-http-method-override", override),
          optional("x-http-method", override),
          optional("x-method-override", override),
          optional(
            "cache-control",
            fc.oneof(
              fc.constantFrom("no-cache", "no-store", "max-age=0", "no-cache, no-store", "private"),
              headerValueArb,
            ),
          ),
          optional("pragma", fc.constant("no-cache")),
          optional("idempotency-key", fc.oneof(fc.uuid(), headerValueArb, fc.constant("k".repeat(300)))),
          optional(
            "origin",
            fc.oneof(
              fc.constantFrom("https://evil.example", "null", "https://app.example.com.evil.example"),
              headerValueArb,
            ),
          ),
          optional("cf-connecting-ip", fc.oneof(fc.ipV4(), fc.ipV6(), headerValueArb)),
          optional("cf-ray", headerValueArb),
          optional("content-encoding", fc.constantFrom("gzip", "br", "identity")),
          optional("accept", headerValueArb),
        ),
        extra,
      )
      .map(([named, more]) => [...named.filter((h) => h !== undefined), ...more])
      // Authorization is chosen on purpose by each property; Content-Length is the platform's to set.
      .map((hs) => hs.filter(([name]) => !["authorization", "content-length"].includes(name.toLowerCase())))
  );
}

// --- Bodies --------------------------------------------------------------------------------------

const FIELD_NAMES = [
  "name",
  "key",
  "key_id",
  "subject",
  "username",
  "ttl",
  "__proto__",
  "constructor",
  "prototype",
  "admin",
];

const fieldValue = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom("a\r\nb", "\u0000", "\u0085", "x".repeat(64), "x".repeat(201), -1, 0, 1e308, 172_801, "60"),
);

/** Bodies from plausible to absurd. None is ever a valid body by design; some are by chance. */
export const bodyArb: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "{}",
      "[]",
      "null",
      "0",
      '""',
      "\uFEFF{}",
      "{",
      '{"name":"a","name":"b"}',
      "_method=DELETE&name=x",
    ),
  },
  {
    weight: 3,
    arbitrary: fc.dictionary(fc.constantFrom(...FIELD_NAMES), fieldValue, { maxKeys: 3 }).map((d) => JSON.stringify(d)),
  },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom(16_385, 100_000, 1_000_000).map((n) => `{"name":"${"x".repeat(n)}"}`) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 8_000).map((n) => "[".repeat(n) + "]".repeat(n)) },
);

// --- Routes ------------------------------------------------------------------------------------

export interface Route {
  path: string;
  methods: string[];
  /** Body fields the route's schema knows; undefined when the route takes no body. */
  fields?: string[];
  /** True when an empty body is itself invalid for an admin caller. */
  emptyInvalid?: boolean;
  public?: boolean;
  /** A caller whose scopes cover every method of the route. */
  role?: Role;
}

/** Every route the Worker serves (the static files are the assets'), its methods and body fields; `uid` fills the key-id parameter. */
export function routes(uid: string): Route[] {
  return [
    { path: KEYS_PATH, methods: ["GET", "POST"], fields: ["name"], role: "writer" },
    { path: `${KEYS_PATH}/${uid}`, methods: ["GET", "PUT", "DELETE"], fields: ["name"], role: "writer" },
    { path: `/v1/keys/${uid}/secret`, methods: ["PUT"], fields: ["key"], emptyInvalid: true, role: "writer" },
    { path: ACTIVE_KEY_PATH, methods: ["GET", "PUT"], fields: ["key_id"], emptyInvalid: true, role: "writer" },
    { path: "/v1/audit", methods: ["GET"], role: "auditor" },
    { path: REVOKE_PATH, methods: ["POST"], fields: ["username", "subject"], emptyInvalid: true, role: "revoker" },
    { path: VEND_PATH, methods: ["POST"], fields: ["ttl", "subject"], emptyInvalid: true, role: "issuer" },
    { path: "/healthz", methods: ["GET"], public: true },
  ];
}

/** Requests a real client might send to a real route: its own methods, a real token, a body of its own fields. */
export function plausibleSpecArb(
  table: Route[],
  authorization: fc.Arbitrary<string | undefined>,
  noise: fc.Arbitrary<[string, string][]>,
): fc.Arbitrary<RequestSpec> {
  const value = fc.oneof(fc.string({ maxLength: 30 }), hex32, fc.integer({ min: 60, max: 172_800 }), fieldValue);
  return fc.constantFrom(...table).chain((route) =>
    fc
      .record({
        method: fc.constantFrom(...route.methods).chain((m) => fc.constantFrom(m, m.toLowerCase())),
        // Mostly the caller the route is for, so requests reach the handler and, through it, upstream.
        authorization: route.role
          ? fc.oneof(
              { weight: 3, arbitrary: fc.constant(`Bearer ${CALLERS[route.role].token}`) },
              { weight: 2, arbitrary: authorization },
            )
          : authorization,
        body: route.fields
          ? fc.oneof(
              fc.dictionary(fc.constantFrom(...route.fields), value, { maxKeys: 2 }).map((d) => JSON.stringify(d)),
              bodyArb,
            )
          : bodyArb,
        contentType: fc.oneof({ weight: 4, arbitrary: fc.constant("application/json") }, contentTypeArb),
        noise,
      })
      .map(({ method, authorization, body, contentType, noise }) => ({
        method,
        path: route.path,
        headers: [
          ...(authorization === undefined ? [] : [["authorization", authorization] as [string, string]]),
          ["content-type", contentType] as [string, string],
          ...noise,
        ],
        body,
      })),
  );
}

// --- Sending and checking ------------------------------------------------------------------------

/**
 * The Request the spec describes, or undefined when the platform itself refuses to build it (an unknown
 * method token, a header it cannot carry): such a request can never reach the Worker.
 */
export function buildRequest(spec: RequestSpec): Request | undefined {
  let method: string;
  try {
    method = new Request(ORIGIN, { method: spec.method }).method;
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return undefined;
  }
  const headers = new Headers();
  try {
    for (const [name, value] of spec.headers) headers.append(name, value);
  } catch {
    return undefined;
  }
  const body = method === "GET" || method === "HEAD" ? undefined : spec.body;
  try {
    return new Request(ORIGIN + spec.path, { method, headers, body });
  } catch {
    return undefined;
  }
}

/** Secret values found in the answer (body or any header); the empty list when there are none. */
export function leakedSecrets(res: Response, bodyText: string, secrets: Iterable<string>): string[] {
  const haystack = bodyText + "\n" + [...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
  return [...secrets].filter((s) => s.length > 0 && haystack.includes(s));
}

/** The v4 failure envelope, exactly: `{ success: false, errors: [{ code, message }, ...], messages: [], result: null }`. */
export function expectFailureEnvelope(res: Response, bodyText: string): void {
  expect(res.headers.get("content-type") ?? "").toMatch(/^application\/json/);
  const body = JSON.parse(bodyText) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(["errors", "messages", "result", "success"]);
  expect(body.success).toBe(false);
  expect(body.result).toBeNull();
  expect(body.messages).toEqual([]);
  expect(Array.isArray(body.errors)).toBe(true);
  const errors = body.errors as Record<string, unknown>[];
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) {
    expect(Object.keys(e).sort()).toEqual(["code", "message"]);
    expect(typeof e.code).toBe("number");
    expect(typeof e.message).toBe("string");
  }
}

/** Headers every answer carries, whatever was asked. */
export function expectSecurityHeaders(res: Response): void {
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("content-security-policy")).toMatch(/^default-src 'none'; /);
  expect(res.headers.get("server")).toBeNull();
  expect(res.headers.get("x-powered-by")).toBeNull();
}

/** A short, printable description of a request for failure messages. */
export function describeSpec(spec: RequestSpec): string {
  const body =
    spec.body === undefined ? "" : typeof spec.body === "string" ? spec.body : `<${spec.body.byteLength} bytes>`;
  return JSON.stringify({
    method: spec.method.slice(0, 40),
    path: spec.path.slice(0, 300),
    headers: spec.headers.map(([k, v]) => [k, v.slice(0, 120)]),
    body: body.slice(0, 300),
  });
}
