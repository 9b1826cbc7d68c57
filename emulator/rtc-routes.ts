import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { isPlainObject, readJsonBody } from "./body.ts";
import { secretsEqual } from "./crypto.ts";
import { CREDENTIAL_TTL_MAX_SECONDS, CREDENTIAL_TTL_MIN_SECONDS, mintCredential } from "./credentials.ts";
import { intercept } from "./intercept.ts";
import type { ResolvedOptions } from "./options.ts";
import type { EmulatorState } from "./state.ts";

/** Where the rtc credential routes are mounted; the worker's RTC base is `<origin>/v1`. */
export const CREDENTIALS_PATH = "/v1/turn/keys/:key_id/credentials";

const BEARER_PATTERN = /^Bearer ([^\s]+)$/;

// Cloudflare's rtc error bodies are undocumented; a flat `{ error }` keeps them obviously unlike the v4 envelope.
const rtcError = (c: Context, status: 400 | 401 | 404, error: string): Response => c.json({ error }, status);

/** The bearer must be the 64-char secret of the key named in the path; anything else is the same 401. */
function keySecretAuth(state: EmulatorState): MiddlewareHandler {
  return async (c, next) => {
    const match = BEARER_PATTERN.exec(c.req.header("authorization") ?? "");
    const record = state.keys.get(c.req.param("key_id") ?? "");
    // Always run the comparison so an unknown key and a wrong secret take the same time.
    const ok = await secretsEqual(match?.[1] ?? "", record?.secret ?? "");
    if (!match || !record || !ok) return rtcError(c, 401, "unauthorized");
    return next();
  };
}

type GenerateInput = { ttl: number; customIdentifier: string | null };

async function generateBody(c: Context): Promise<GenerateInput | Response> {
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return rtcError(c, 400, "request body is not valid JSON");
  if (!isPlainObject(body.value)) return rtcError(c, 400, "request body must be a JSON object");
  const ttl = body.value["ttl"];
  // Cloudflare's default for a missing ttl is undocumented; requiring it keeps the worker from relying on one.
  if (
    typeof ttl !== "number" ||
    !Number.isInteger(ttl) ||
    ttl < CREDENTIAL_TTL_MIN_SECONDS ||
    ttl > CREDENTIAL_TTL_MAX_SECONDS
  ) {
    const range = `[${CREDENTIAL_TTL_MIN_SECONDS}, ${CREDENTIAL_TTL_MAX_SECONDS}]`;
    return rtcError(c, 400, `ttl must be an integer in ${range} seconds`);
  }
  const customIdentifier = body.value["customIdentifier"];
  if (customIdentifier !== undefined && typeof customIdentifier !== "string") {
    return rtcError(c, 400, "customIdentifier must be a string");
  }
  return { ttl, customIdentifier: customIdentifier ?? null };
}

const isStun = (url: string): boolean => /^stuns?:/i.test(url);

/** Cloudflare Realtime TURN credentials: generate-ice-servers (current), generate (legacy), revoke. */
export function credentialsRoutes(state: EmulatorState, opts: ResolvedOptions): Hono {
  const app = new Hono();
  const auth = keySecretAuth(state);

  app.post("/generate-ice-servers", intercept(state, "credentials.generate_ice_servers", "rtc"), auth, async (c) => {
    const input = await generateBody(c);
    if (input instanceof Response) return input;
    const keyId = c.req.param("key_id") ?? "";
    const { username, credential } = await mintCredential(state, opts.turnSecret, { keyId, ...input });
    // Read per call: PUT /__emulator/ice-urls may have changed the list.
    const stunUrls = opts.turnUrls.filter(isStun);
    const turnUrls = opts.turnUrls.filter((url) => !isStun(url));
    // Like Cloudflare: STUN in its own entry without credentials, TURN/TURNS together with them.
    const iceServers = [...(stunUrls.length > 0 ? [{ urls: stunUrls }] : []), { urls: turnUrls, username, credential }];
    return c.json({ iceServers }, 201);
  });

  app.post("/generate", intercept(state, "credentials.generate", "rtc"), auth, async (c) => {
    const input = await generateBody(c);
    if (input instanceof Response) return input;
    const keyId = c.req.param("key_id") ?? "";
    const { username, credential } = await mintCredential(state, opts.turnSecret, { keyId, ...input });
    // Legacy shape: one object, not an array; every url in it, STUN included.
    return c.json({ iceServers: { urls: [...opts.turnUrls], username, credential } }, 201);
  });

  app.post("/:username/revoke", intercept(state, "credentials.revoke", "rtc"), auth, (c) => {
    const record = state.credentials.get(c.req.param("username") ?? "");
    if (!record || record.keyId !== c.req.param("key_id")) return rtcError(c, 404, "credential not found");
    // Revoking twice is undocumented upstream; answering 204 again keeps retries harmless.
    record.revoked = true;
    return c.body(null, 204);
  });

  return app;
}
