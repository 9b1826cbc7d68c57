// The v4 TURN key routes, drop-in compatible with Cloudflare's (docs/cloudflare-upstream.md#turn-keys).
import type { Context } from "hono";
import { KeyNameBody } from "../contract/requests";
import { Failure } from "../errors";
import type { AppEnv } from "../http/app-env";
import { audited } from "../http/audited";
import { MESSAGE_CODES } from "../http/codes";
import { successEnvelope, type V4Message } from "../http/envelope";
import { Hono } from "../http/hono";
import { readJsonBody } from "../http/json-body";
import { methodNotAllowed } from "../http/method-not-allowed";
import { type CallerEnv, requireCaller } from "../http/require-caller";
import { createKey } from "../keys/create-request";
import { type Cached, getKey, listKeys } from "../keys/reads";
import { deleteKey, updateKey } from "../keys/updates";
import { checkAccount, keyIdParam } from "./params";

export const turnKeys = new Hono<AppEnv>();

turnKeys.get("/", requireCaller("keys:read"), async (c) => {
  checkAccount(c);
  const answer = await listKeys(c.get("services").keys, { bypass: wantsBypass(c), caller: c.get("caller").id });
  return c.json(successEnvelope(answer.value, cached(c, answer)));
});

turnKeys.post("/", audited("turn_key.create"), requireCaller("keys:write"), async (c) => {
  checkAccount(c);
  const idempotencyKey = idempotencyKeyHeader(c);
  const body = await readJsonBody(c, KeyNameBody);
  const caller = c.get("caller");
  // The one-time secret goes only to callers allowed to see it; turnvend keeps custody either way.
  const reveal = caller.scopes.has("keys:reveal");
  const outcome = await createKey(c.get("services").keys, {
    name: body.name,
    callerId: caller.id,
    principal: caller.principal,
    idempotencyKey,
    reveal,
  });
  c.set("auditKeyId", outcome.key.uid);
  if (outcome.replayed) c.header("Idempotent-Replayed", "true");
  const result = reveal ? { ...outcome.key, key: outcome.secret } : outcome.key;
  return c.json(successEnvelope(result), outcome.status as 201);
});

turnKeys.get("/:key_id", requireCaller("keys:read"), async (c) => {
  checkAccount(c);
  const answer = await getKey(c.get("services").keys, keyIdParam(c), {
    bypass: wantsBypass(c),
    caller: c.get("caller").id,
  });
  return c.json(successEnvelope(answer.value, cached(c, answer)));
});

turnKeys.put("/:key_id", audited("turn_key.update"), requireCaller("keys:write"), async (c) => {
  checkAccount(c);
  const keyId = keyIdParam(c);
  const body = await readJsonBody(c, KeyNameBody);
  const updated = await updateKey(c.get("services").keys, keyId, { name: body.name, callerId: c.get("caller").id });
  return c.json(successEnvelope(updated));
});

turnKeys.delete("/:key_id", audited("turn_key.delete"), requireCaller("keys:write"), async (c) => {
  checkAccount(c);
  const deleted = await deleteKey(c.get("services").keys, keyIdParam(c), { callerId: c.get("caller").id });
  return c.json(successEnvelope(deleted));
});

turnKeys.all("/", methodNotAllowed("GET, POST"));
turnKeys.all("/:key_id", methodNotAllowed("GET, PUT, DELETE"));

/** `Cache-Control: no-cache` (or `Pragma: no-cache`) asks for a fresh answer from upstream. */
function wantsBypass(c: Context<CallerEnv>): boolean {
  const cc = c.req.header("cache-control") ?? "";
  return /(^|,)\s*no-cache\s*(,|$)/i.test(cc) || /no-cache/i.test(c.req.header("pragma") ?? "");
}

/** Sets the cache headers of a read; returns the envelope's messages (a note when a refresh was refused). */
function cached<T>(c: Context<CallerEnv>, answer: Cached<T>): V4Message[] {
  c.header("X-Cache", answer.cache);
  if (answer.ageSeconds !== undefined) c.header("Age", String(answer.ageSeconds));
  c.header("Cache-Control", "private, no-store");
  if (!answer.refreshRefused) return [];
  return [
    {
      code: MESSAGE_CODES.refresh_refused,
      message: "this caller has asked Cloudflare too often for now; the answer is turnvend's cached copy",
    },
  ];
}

/** Optional `Idempotency-Key`: 1 to 255 visible ASCII characters. */
function idempotencyKeyHeader(c: Context<CallerEnv>): string | undefined {
  const value = c.req.header("idempotency-key");
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw new Failure("invalid_request", "Idempotency-Key must be 1 to 255 visible ASCII characters");
  }
  return value;
}
