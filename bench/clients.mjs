// What the benchmark says to the stack outside of load runs: turnvend's admin API as the dev caller, the
// emulator's control routes, and an end-user JWT for vending.
import { SignJWT } from "jose";
import { DEV_ACCOUNT_ID, DEV_CALLER_TOKEN, devSettings } from "../scripts/dev-defaults.mjs";

export const ADMIN_HEADERS = { authorization: `Bearer ${DEV_CALLER_TOKEN}` };
export const KEYS_PATH = `/client/v4/accounts/${DEV_ACCOUNT_ID}/calls/turn_keys`;

/** The dev stack's JWT settings, from the same defaults the stack runs on. */
const { JWT_HS256_SECRET, JWT_ISSUER, JWT_AUDIENCE } = devSettings({ port: 0, emulatorUrl: "http://127.0.0.1" });

async function json(res, what) {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

export function emulator(baseUrl) {
  const control = (path, init) => fetch(`${baseUrl}/__emulator${path}`, init).then((r) => json(r, `emulator ${path}`));
  const post = (path, body) =>
    control(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return {
    reset: (seedKeys = 0) => post("/reset", { seedKeys }),
    delay: (route, delayMs) => post("/faults", { route, delayMs, count: -1 }),
    fault: (fault) => post("/faults", fault),
    /** Every key upstream, as the emulator holds it. */
    keys: () => control("/keys"),
    clearFaults: () => control("/faults", { method: "DELETE" }),
    calls: () => control("/calls"),
    /**
     * The call counts once no call has arrived for `quietMs`: requests a load run abandoned at its end
     * may still reach upstream, and must not be counted in the next run.
     */
    async settledCalls(quietMs = 500, maxMs = 15_000) {
      const deadline = Date.now() + maxMs;
      let last = await control("/calls");
      for (;;) {
        await new Promise((r) => setTimeout(r, quietMs));
        const now = await control("/calls");
        if (now.total === last.total || Date.now() > deadline) return now;
        last = now;
      }
    },
  };
}

export function turnvend(baseUrl) {
  const admin = async (method, path, body, headers = {}) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { ...ADMIN_HEADERS, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return json(res, `${method} ${path}`);
  };
  return {
    /** A list that bypasses and so refreshes turnvend's cache: starts a fresh 60 s window. */
    refreshList: () => admin("GET", KEYS_PATH, undefined, { "cache-control": "no-cache" }),
    list: () => admin("GET", KEYS_PATH),
    createKey: (name) => admin("POST", KEYS_PATH, { name }),
    setActiveKey: (keyId) => admin("PUT", "/v1/active-key", { key_id: keyId }),
  };
}

/** An end-user JWT the dev stack accepts (HS256 with the dev secret), valid for an hour. */
export function endUserJwt(subject) {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(subject)
    .setIssuer(JWT_ISSUER)
    .setAudience(JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(JWT_HS256_SECRET));
}
