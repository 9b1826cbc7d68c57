import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { isPlainObject, readJsonBody } from "./body.ts";
import { secretsEqual } from "./crypto.ts";
import { V4_CODES, v4Failure, v4Success } from "./envelope.ts";
import type { V4Error } from "./envelope.ts";
import { intercept } from "./intercept.ts";
import type { ResolvedOptions } from "./options.ts";
import { MAX_TURN_KEYS_PER_ACCOUNT, createKey, toCreatedKey, toPublicKey } from "./state.ts";
import type { EmulatorState } from "./state.ts";

/** Where the v4 TURN-key routes are mounted; the worker's API base is `<origin>/client/v4`. */
export const TURN_KEYS_PATH = "/client/v4/accounts/:account_id/calls/turn_keys";

const KEY_ID_PATTERN = /^[0-9a-f]{32}$/;
const BEARER_PATTERN = /^Bearer ([^\s]+)$/;

function fail(c: Context, status: 400 | 403 | 404, errors: V4Error[]): Response {
  return c.json(v4Failure(errors), status);
}

/** Account-token auth, in Cloudflare's order: header shape (400), then token and account (403). */
function accountAuth(opts: ResolvedOptions): MiddlewareHandler {
  return async (c, next) => {
    const match = BEARER_PATTERN.exec(c.req.header("authorization") ?? "");
    if (!match) return fail(c, 400, [{ code: V4_CODES.invalidHeaders, message: "Invalid request headers" }]);
    const tokenOk = await secretsEqual(match[1]!, opts.apiToken);
    // A real token only sees its own account, so a foreign account id reads as an auth failure, not a 404.
    if (!tokenOk || c.req.param("account_id") !== opts.accountId) {
      return fail(c, 403, [{ code: V4_CODES.authentication, message: "Authentication error" }]);
    }
    return next();
  };
}

/** The key id from the path, or the 400 Cloudflare gives for an id that cannot be an identifier. */
function keyIdOr400(c: Context, opts: ResolvedOptions): string | Response {
  const keyId = c.req.param("key_id") ?? "";
  if (KEY_ID_PATTERN.test(keyId)) return keyId;
  // Cloudflare echoes the raw path here; the emulator names the slot instead, so a secret pasted into a URL by
  // mistake is never reflected back.
  const path = `/accounts/${opts.accountId}/calls/turn_keys/{key_id}`;
  return fail(c, 400, [
    {
      code: V4_CODES.invalidIdentifier,
      message: `Could not route to ${path}, perhaps your object identifier is invalid?`,
    },
    { code: V4_CODES.noRoute, message: "No route for that URI" },
  ]);
}

const notFound = (c: Context): Response =>
  fail(c, 404, [{ code: V4_CODES.keyNotFound, message: "TURN key not found" }]);

/** `{ name?: string }`, shared by create and update; undefined name means "leave as is" / default "". */
async function nameBody(c: Context): Promise<{ name: string | undefined } | Response> {
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return fail(c, 400, [{ code: V4_CODES.malformedJson, message: "Malformed JSON in request body" }]);
  if (!isPlainObject(body.value)) {
    return fail(c, 400, [{ code: V4_CODES.invalidBody, message: "Request body must be a JSON object" }]);
  }
  const name = body.value["name"];
  if (name !== undefined && typeof name !== "string") {
    return fail(c, 400, [{ code: V4_CODES.invalidBody, message: "name must be a string" }]);
  }
  return { name };
}

/** Cloudflare API v4 `calls/turn_keys`: list, create, get, update, delete. */
export function turnKeysRoutes(state: EmulatorState, opts: ResolvedOptions): Hono {
  const app = new Hono();
  const auth = accountAuth(opts);

  app.get("/", intercept(state, "turn_keys.list", "v4"), auth, (c) => {
    return c.json(v4Success([...state.keys.values()].map(toPublicKey)), 200);
  });

  app.post("/", intercept(state, "turn_keys.create", "v4"), auth, async (c) => {
    const body = await nameBody(c);
    if (body instanceof Response) return body;
    const record = createKey(state, body.name ?? "");
    if (!record) {
      return fail(c, 400, [
        { code: V4_CODES.keyLimit, message: `TURN key limit reached (${MAX_TURN_KEYS_PER_ACCOUNT} per account)` },
      ]);
    }
    return c.json(v4Success(toCreatedKey(record)), 201);
  });

  app.get("/:key_id", intercept(state, "turn_keys.get", "v4"), auth, (c) => {
    const keyId = keyIdOr400(c, opts);
    if (keyId instanceof Response) return keyId;
    const record = state.keys.get(keyId);
    return record ? c.json(v4Success(toPublicKey(record)), 200) : notFound(c);
  });

  app.put("/:key_id", intercept(state, "turn_keys.update", "v4"), auth, async (c) => {
    const keyId = keyIdOr400(c, opts);
    if (keyId instanceof Response) return keyId;
    const record = state.keys.get(keyId);
    if (!record) return notFound(c);
    const body = await nameBody(c);
    if (body instanceof Response) return body;
    if (body.name !== undefined) record.name = body.name;
    record.modified = new Date().toISOString();
    return c.json(v4Success(toPublicKey(record)), 200);
  });

  app.delete("/:key_id", intercept(state, "turn_keys.delete", "v4"), auth, (c) => {
    const keyId = keyIdOr400(c, opts);
    if (keyId instanceof Response) return keyId;
    const record = state.keys.get(keyId);
    if (!record) return notFound(c);
    // Issued credentials stay recorded: with coturn's shared-secret scheme they stay usable until they expire.
    state.keys.delete(keyId);
    return c.json(v4Success(toPublicKey(record)), 200);
  });

  return app;
}
