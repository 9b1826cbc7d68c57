import { Hono } from "hono";
import type { Context } from "hono";
import { isPlainObject, readJsonBody } from "./body.ts";
import { callsSnapshot } from "./calls.ts";
import { enqueueFault, faultsSnapshot, parseFaultRequest } from "./faults.ts";
import type { FaultTarget, QueuedFault } from "./faults.ts";
import { MAX_TURN_KEYS_PER_ACCOUNT, createKey, resetState, toCreatedKey, toPublicKey } from "./state.ts";
import type { EmulatorState, UsageRow } from "./state.ts";

/** Where the test/bench control routes live. No auth: the emulator only ever listens on loopback. */
export const CONTROL_PATH = "/__emulator";

const badRequest = (c: Context, error: string): Response => c.json({ error }, 400);

/** Fault injection, call counters, reset/seed and state inspection, for tests and benchmarks only. */
export function controlRoutes(state: EmulatorState): Hono {
  const app = new Hono();
  // A stand-in for an identity provider's key set (e.g. Cloudflare Access certs). Kept here, not in
  // upstream state: fetching it is not a Cloudflare API call, so it never shows in `/calls`.
  const jwks: { body: unknown; fetches: number } = { body: null, fetches: 0 };

  // One fault object or an array of them; all are validated before any is queued, so a bad batch changes nothing.
  app.post("/faults", async (c) => {
    const body = await readJsonBody(c.req.raw);
    if (!body.ok) return badRequest(c, "request body is not valid JSON");
    const items = Array.isArray(body.value) ? body.value : [body.value];
    const parsed: { route: FaultTarget; fault: QueuedFault }[] = [];
    for (const item of items) {
      const result = parseFaultRequest(item);
      if (!result.ok) return badRequest(c, result.error);
      parsed.push({ route: result.route, fault: result.fault });
    }
    for (const { route, fault } of parsed) enqueueFault(state.faults, route, fault);
    return c.json({ ok: true, faults: faultsSnapshot(state.faults) }, 200);
  });

  app.get("/faults", (c) => c.json({ faults: faultsSnapshot(state.faults) }, 200));

  // Clears faults only, so a benchmark can drop a standing delay without losing its seeded keys.
  app.delete("/faults", (c) => {
    state.faults.clear();
    return c.json({ ok: true }, 200);
  });

  app.get("/calls", (c) => c.json(callsSnapshot(state.calls), 200));

  app.post("/reset", async (c) => {
    const body = await readJsonBody(c.req.raw);
    if (!body.ok || !isPlainObject(body.value)) return badRequest(c, "body must be a JSON object or empty");
    const seedKeys = body.value["seedKeys"] ?? 0;
    if (!Number.isInteger(seedKeys) || (seedKeys as number) < 0 || (seedKeys as number) > MAX_TURN_KEYS_PER_ACCOUNT) {
      return badRequest(c, `seedKeys must be an integer in [0, ${MAX_TURN_KEYS_PER_ACCOUNT}]`);
    }
    resetState(state);
    jwks.body = null;
    jwks.fetches = 0;
    const seeded = [];
    for (let i = 0; i < (seedKeys as number); i++) {
      const record = createKey(state, `seed-${String(i + 1).padStart(4, "0")}`);
      if (record) seeded.push(toCreatedKey(record));
    }
    // Secrets included: a benchmark needs them to mint credentials against the seeded keys.
    return c.json({ ok: true, seeded }, 200);
  });

  app.get("/keys", (c) =>
    c.json(
      {
        keys: [...state.keys.values()].map(toPublicKey),
        credentials: [...state.credentials.values()],
      },
      200,
    ),
  );

  // A key made "in the dashboard": not counted as an upstream call, returned with its secret so a test can adopt it.
  app.post("/keys", async (c) => {
    const body = await readJsonBody(c.req.raw);
    if (!body.ok || !isPlainObject(body.value)) return badRequest(c, "body must be a JSON object or empty");
    const name = body.value["name"] ?? "";
    if (typeof name !== "string") return badRequest(c, "name must be a string");
    const record = createKey(state, name);
    if (!record) return badRequest(c, `TURN key limit reached (${MAX_TURN_KEYS_PER_ACCOUNT} per account)`);
    return c.json(toCreatedKey(record), 201);
  });

  // PUT sets the JWKS (a `{ keys: [...] }` object); DELETE removes it, so GET answers 503 like a provider that is down.
  app.put("/jwks", async (c) => {
    const body = await readJsonBody(c.req.raw);
    if (!body.ok || !isPlainObject(body.value) || !Array.isArray(body.value["keys"]))
      return badRequest(c, "body must be a JWKS: { keys: [...] }");
    jwks.body = body.value;
    return c.json({ ok: true }, 200);
  });
  app.delete("/jwks", (c) => {
    jwks.body = null;
    return c.json({ ok: true }, 200);
  });
  // Any query string is ignored, so each test can use its own URL (and so its own cache in the Worker).
  app.get("/jwks", (c) => {
    jwks.fetches++;
    if (jwks.body === null) return c.json({ error: "no JWKS set" }, 503);
    return c.json(jwks.body, 200);
  });
  app.get("/jwks/fetches", (c) => c.json({ fetches: jwks.fetches }, 200));

  // Usage rows for the GraphQL route: one object or an array, all validated before any is added.
  app.post("/usage", async (c) => {
    const body = await readJsonBody(c.req.raw);
    if (!body.ok) return badRequest(c, "request body is not valid JSON");
    const items = Array.isArray(body.value) ? body.value : [body.value];
    const rows: UsageRow[] = [];
    for (const item of items) {
      const row = parseUsageRow(item, state);
      if (typeof row === "string") return badRequest(c, row);
      rows.push(row);
    }
    state.usage.push(...rows);
    return c.json({ ok: true, added: rows.length, rows: state.usage.length }, 200);
  });
  app.get("/usage", (c) => c.json({ usage: state.usage.map((r) => ({ ...r, at: new Date(r.at).toISOString() })) }));

  // A webhook receiver for turnvend's alerts: records every delivery (headers and raw body, so a test can
  // check the signature) and answers 500 to the next `failNext` of them, to exercise retries.
  app.post("/webhook", async (c) => {
    const answered = state.webhooks.failNext > 0 ? 500 : 200;
    if (answered === 500) state.webhooks.failNext -= 1;
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value;
    });
    state.webhooks.received.push({
      at: new Date().toISOString(),
      headers,
      body: await c.req.text(),
      answered,
    });
    return c.json({ ok: answered === 200 }, answered);
  });
  app.get("/webhook", (c) => c.json({ received: state.webhooks.received }, 200));
  app.put("/webhook", async (c) => {
    const body = await readJsonBody(c.req.raw);
    const failNext = body.ok && isPlainObject(body.value) ? body.value["failNext"] : undefined;
    if (!Number.isInteger(failNext) || (failNext as number) < 0)
      return badRequest(c, "failNext must be an integer >= 0");
    state.webhooks.failNext = failNext as number;
    return c.json({ ok: true }, 200);
  });

  return app;
}

/**
 * One usage row, or the problem with it. Without a customIdentifier, the credential named by `username`
 * (if the emulator minted it) supplies it, as Cloudflare attributes a credential's traffic to its tag.
 */
function parseUsageRow(input: unknown, state: EmulatorState): UsageRow | string {
  if (!isPlainObject(input)) return "a usage row must be a JSON object";
  const username = input["username"] ?? null;
  if (username !== null && typeof username !== "string") return "username must be a string";
  const minted = username === null ? undefined : state.credentials.get(username);
  const keyId = input["keyId"] ?? minted?.keyId;
  if (typeof keyId !== "string" || keyId === "") return "keyId must be a string (or username a minted credential's)";
  const customIdentifier = input["customIdentifier"] ?? minted?.customIdentifier ?? null;
  if (customIdentifier !== null && typeof customIdentifier !== "string") return "customIdentifier must be a string";
  const egressBytes = input["egressBytes"];
  const ingressBytes = input["ingressBytes"] ?? 0;
  for (const [name, n] of [
    ["egressBytes", egressBytes],
    ["ingressBytes", ingressBytes],
  ] as const) {
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) return `${name} must be a non-negative integer`;
  }
  const atRaw = input["at"];
  const at = atRaw === undefined ? Date.now() : typeof atRaw === "string" ? Date.parse(atRaw) : Number.NaN;
  if (!Number.isFinite(at)) return "at must be an RFC 3339 time";
  return {
    keyId,
    customIdentifier,
    username,
    egressBytes: egressBytes as number,
    ingressBytes: ingressBytes as number,
    at,
  };
}
