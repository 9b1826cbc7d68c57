// The v4 TURN key routes, drop-in compatible with Cloudflare's (reference §1).
import { Hono, type Context } from "hono";
import type { AppEnv } from "../http/app-env";
import { successEnvelope } from "../http/errors";
import { methodNotAllowed } from "../http/method-not-allowed";
import { readJsonBody } from "../http/json-body";
import { requireCaller } from "../auth/require-caller";
import { keyDeps } from "../keys/deps";
import { createKey, deleteKey, getKey, listKeys, updateKey, type CacheState } from "../keys/service";
import { checkAccount, keyIdParam } from "./params";
import { KeyNameBody } from "./schemas";

export const turnKeys = new Hono<AppEnv>();

turnKeys.get("/", requireCaller("keys:read"), async (c) => {
  checkAccount(c);
  const { value, cache } = await listKeys(keyDeps(c.env, c.get("config")), { bypass: wantsBypass(c) });
  return cached(c, cache).json(successEnvelope(value));
});

turnKeys.post("/", requireCaller("keys:write"), async (c) => {
  checkAccount(c);
  const body = await readJsonBody(c, KeyNameBody);
  const caller = c.get("caller")!;
  const created = await createKey(keyDeps(c.env, c.get("config")), { name: body.name, callerId: caller.id });
  // The one-time secret goes only to callers allowed to see it; turnvend keeps custody either way.
  const { key, ...rest } = created;
  return c.json(successEnvelope(caller.scopes.has("keys:reveal") ? created : rest), 201);
});

turnKeys.get("/:key_id", requireCaller("keys:read"), async (c) => {
  checkAccount(c);
  const { value, cache } = await getKey(keyDeps(c.env, c.get("config")), keyIdParam(c), { bypass: wantsBypass(c) });
  return cached(c, cache).json(successEnvelope(value));
});

turnKeys.put("/:key_id", requireCaller("keys:write"), async (c) => {
  checkAccount(c);
  const keyId = keyIdParam(c);
  const body = await readJsonBody(c, KeyNameBody);
  const updated = await updateKey(keyDeps(c.env, c.get("config")), keyId, { name: body.name, callerId: c.get("caller")!.id });
  return c.json(successEnvelope(updated));
});

turnKeys.delete("/:key_id", requireCaller("keys:write"), async (c) => {
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

function cached(c: Context<AppEnv>, state: CacheState): Context<AppEnv> {
  c.header("X-Cache", state);
  c.header("Cache-Control", "private, no-store");
  return c;
}
