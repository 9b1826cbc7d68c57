// How the load run talks to the stack: every request to turnvend goes through `call`, which times it, records
// it, and judges the answer against the fault rules (a 5xx must be a deliberate 502/503 in the v4 envelope).
import { SignJWT } from "jose";
import { DEV_ACCOUNT_ID, DEV_CALLER_TOKEN, devSettings } from "../scripts/dev-defaults.mjs";

export const KEYS_PATH = `/client/v4/accounts/${DEV_ACCOUNT_ID}/calls/turn_keys`;
export const ADMIN = { authorization: `Bearer ${DEV_CALLER_TOKEN}` };
const { JWT_HS256_SECRET, JWT_ISSUER, JWT_AUDIENCE } = devSettings({ port: 0, emulatorUrl: "http://127.0.0.1" });

/** The deliberate 5xx codes (README "Errors") and the status each must come with. */
export const DELIBERATE_5XX = new Map([
  [10031, 502], // upstream_error
  [10032, 503], // upstream_unavailable
  [10034, 503], // custody_failure
  [10035, 503], // no_active_key
  [10036, 503], // ledger_unavailable
  [10037, 503], // identity_provider_unavailable
  [10038, 503], // account_state_unavailable
]);

/** No answer within this is a turnvend bug: its own upstream deadline is 20 s. */
const CLIENT_TIMEOUT_MS = 30_000;

/** The marker versions before the account object added to every key name; none may appear now. */
export const OLD_MARKER = /~tv-/;

const jwts = new Map();
/** An end-user JWT the dev stack accepts, one per subject, signed once. */
export function endUserJwt(subject) {
  let p = jwts.get(subject);
  if (!p) {
    p = new SignJWT({})
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(subject)
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("2h")
      .sign(new TextEncoder().encode(JWT_HS256_SECRET));
    jwts.set(subject, p);
  }
  return p;
}

/**
 * A turnvend client bound to one recorder and one violation list.
 * `expected` maps an operation to the non-5xx statuses it may answer; anything else is a violation.
 */
export function turnvendClient(baseUrl, { recorder, violations, expected }) {
  /** Sends one request; returns { status, headers, body (parsed JSON or undefined), text, ms }. */
  async function call(op, method, path, { body, headers = {} } = {}) {
    const t0 = performance.now();
    let res;
    let text = "";
    try {
      res = await fetch(baseUrl + path, {
        method,
        headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
      });
      text = await res.text();
    } catch (err) {
      const ms = performance.now() - t0;
      recorder.record(op, "error", ms);
      violations.push(
        `${op} ${method} ${path}: no answer (${err?.name ?? "error"}: ${err?.message ?? err}) after ${Math.round(ms)} ms`,
      );
      return { status: "error", headers: new Headers(), body: undefined, text: "", ms };
    }
    const ms = performance.now() - t0;
    recorder.record(op, res.status, ms);
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const out = { status: res.status, headers: res.headers, body: parsed, text, ms };
    judge(op, method, path, out);
    return out;
  }

  function judge(op, method, path, r) {
    const where = `${op} ${method} ${path} -> ${r.status} (request ${r.headers.get("x-request-id") ?? "?"})`;
    if (r.status >= 500) {
      if (r.text.includes("Your worker restarted mid-request")) {
        return violations.push(
          `${where}: wrangler dev reloaded the Worker mid-request (a source file changed during the run): rerun`,
        );
      }
      const b = r.body;
      const envelope =
        b &&
        b.success === false &&
        Array.isArray(b.errors) &&
        b.errors.length > 0 &&
        Array.isArray(b.messages) &&
        b.result === null;
      const code = envelope ? b.errors[0]?.code : undefined;
      if (!envelope) return violations.push(`${where}: 5xx outside the v4 envelope: ${r.text.slice(0, 200)}`);
      if (!DELIBERATE_5XX.has(code))
        return violations.push(
          `${where}: 5xx with code ${code} (not a deliberate fault code): ${r.text.slice(0, 200)}`,
        );
      if (DELIBERATE_5XX.get(code) !== r.status)
        return violations.push(`${where}: code ${code} with status ${r.status}, expected ${DELIBERATE_5XX.get(code)}`);
      if (r.status === 503 && !/^\d+$/.test(r.headers.get("retry-after") ?? "")) {
        return violations.push(`${where}: 503 without a Retry-After: ${r.text.slice(0, 200)}`);
      }
      return;
    }
    const allowed = expected[op];
    if (allowed && !allowed.includes(r.status)) violations.push(`${where}: unexpected status: ${r.text.slice(0, 200)}`);
  }

  return { call, violations };
}

/** The emulator's control routes. */
export function emulatorControl(baseUrl) {
  const control = async (path, init) => {
    const res = await fetch(`${baseUrl}/__emulator${path}`, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : null;
  };
  const post = (path, body) =>
    control(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return {
    reset: () => post("/reset", { seedKeys: 0 }),
    setFaults: (faults) => post("/faults", faults),
    clearFaults: () => control("/faults", { method: "DELETE" }),
    keys: () => control("/keys"),
    calls: () => control("/calls"),
  };
}
