// The v4 TURN key routes, drop-in compatible with Cloudflare's (reference §1).
import type { Context } from "hono";
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { ApiError, successEnvelope } from "../http/errors";
import { audited } from "../http/audited";
import { methodNotAllowed } from "../http/method-not-allowed";
import { readJsonBody } from "../http/json-body";
import { requireCaller } from "../auth/require-caller";
import { createDeps, keyDeps } from "../keys/deps";
import { createKey } from "../keys/create";
import { deleteKey, getKey, listKeys, updateKey, type Cached } from "../keys/service";
import { checkAccount, keyIdParam } from "./params";
import { KeyNameBody } from "./schemas";

export const turnKeys = new Hono<AppEnv>();

turnKeys.get("/", requireCaller("keys:read"), async (c) => {
  checkAccount(c);
  const answer = await listKeys(keyDeps(c.env, c.get("config")), { bypass: wantsBypass(c) });
  return cached(c, answer).json(successEnvelope(answer.value));
});

turnKeys.post("/", audited("turn_key.create"), requireCaller("keys:write"), async (c) => {
  checkAccount(c);
  const idempotencyKey = idempotencyKeyHeader(c);
  const body = await readJsonBody(c, KeyNameBody);
  const caller = c.get("caller")!;
  const deps = createDeps(c.env, c.get("config"), (work) => c.executionCtx.waitUntil(work));
  const outcome = await createKey(deps, { name: body.name, callerId: caller.id, idempotencyKey });
  c.set("auditKeyId", outcome.key.uid);
  if (outcome.replayed) c.header("Idempotent-Replayed", "true");
  // The one-time secret goes only to callers allowed to see it; turnvend keeps custody either way.
  const result = caller.scopes.has("keys:reveal") ? { ...outcome.key, key: outcome.secret } : outcome.key;
  return c.json(successEnvelope(result), outcome.status as 201);
});

turnKeys.get("/:key_id", requireCaller("keys:read"), async (c) => {
  checkAccount(c);
  const answer = await getKey(keyDeps(c.env, c.get("config")), keyIdParam(c), { bypass: wantsBypass(c) });
  return cached(c, answer).json(successEnvelope(answer.value));
});

turnKeys.put("/:key_id", audited("turn_key.update"), requireCaller("keys:write"), async (c) => {
  checkAccount(c);
  const keyId = keyIdParam(c);
  const body = await readJsonBody(c, KeyNameBody);
  const updated = await updateKey(keyDeps(c.env, c.get("config")), keyId, {
    name: body.name,
    callerId: c.get("caller")!.id,
  });
  return c.json(successEnvelope(updated));
});

turnKeys.delete("/:key_id", audited("turn_key.delete"), requireCaller("keys:write"), async (c) => {
  checkAccount(c);
  const deleted = await deleteKey(keyDeps(c.env, c.get("config")), keyIdParam(c), { callerId: c.get("caller")!.id });
  return c.json(successEnvelope(deleted));
});

turnKeys.all("/", methodNotAllowed("GET, POST"));
turnKeys.all("/:key_id", methodNotAllowed("GET, PUT, DELETE"));

/** `Cache-Control: no-cache` (or `Pragma: no-cache`) asks for a fresh answer from upstream. */
function wantsBypass(c: Context<AppEnv>): boolean {
  const cc = c.req.header("cache-control") ?? "";
  return /(^|,)\s*no-cache\s*(,|$)/i.test(cc) || /no-cache/i.test(c.req.header("pragma") ?? "");
}

function cached<T>(c: Context<AppEnv>, answer: Cached<T>): Context<AppEnv> {
  c.header("X-Cache", answer.cache);
  if (answer.ageSeconds !== undefined) c.header("Age", String(answer.ageSeconds));
  c.header("Cache-Control", "private, no-store");
  return c;
}

/** Optional `Idempotency-Key`: 1 to 255 visible ASCII characters. */
function idempotencyKeyHeader(c: Context<AppEnv>): string | undefined {
  const value = c.req.header("idempotency-key");
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw new ApiError("invalid_request", "Idempotency-Key must be 1 to 255 visible ASCII characters");
  }
  return value;
}
