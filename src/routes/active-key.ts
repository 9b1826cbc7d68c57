// GET/PUT /v1/active-key: which TURN key vends credentials when TURN_KEY_ID does not pin one.
import { assertKeyId } from "../keys/key-id";
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { successEnvelope } from "../http/errors";
import { readJsonBody } from "../http/json-body";
import { audited } from "../http/audited";
import { methodNotAllowed } from "../http/method-not-allowed";
import { requireCaller } from "../auth/require-caller";
import { vendDeps } from "../vend/deps";
import { readActiveKey, setActiveKey } from "../vend/active-key";
import { ActiveKeyBody } from "./vend-schemas";

export const activeKey = new Hono<AppEnv>();

activeKey.get("/", requireCaller("keys:read"), async (c) => {
  c.header("Cache-Control", "no-store");
  return c.json(
    successEnvelope(await readActiveKey(vendDeps(c.env, c.get("config"), (w) => c.executionCtx.waitUntil(w)))),
  );
});

activeKey.put("/", audited("active_key.set"), requireCaller("keys:write"), async (c) => {
  const body = await readJsonBody(c, ActiveKeyBody);
  const keyId = assertKeyId(body.key_id);
  c.set("auditKeyId", keyId);
  const view = await setActiveKey(
    vendDeps(c.env, c.get("config"), (w) => c.executionCtx.waitUntil(w)),
    keyId,
    c.get("caller")!.id,
  );
  return c.json(successEnvelope(view));
});

activeKey.all("/", methodNotAllowed("GET, PUT"));
