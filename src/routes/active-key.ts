// GET/PUT /v1/active-key: which TURN key vends credentials when TURN_KEY_ID does not pin one.
import { ActiveKeyBody } from "../contract/requests";
import type { AppEnv } from "../http/app-env";
import { audited } from "../http/audited";
import { successEnvelope } from "../http/envelope";
import { Hono } from "../http/hono";
import { readJsonBody } from "../http/json-body";
import { methodNotAllowed } from "../http/method-not-allowed";
import { requireCaller } from "../http/require-caller";
import { assertKeyId } from "../ids";
import { readActiveKey, setActiveKey } from "../vend/active-key";

export const activeKey = new Hono<AppEnv>();

activeKey.get("/", requireCaller("keys:read"), async (c) => {
  c.header("Cache-Control", "no-store");
  return c.json(successEnvelope(await readActiveKey(c.get("services").vend)));
});

activeKey.put("/", audited("active_key.set"), requireCaller("keys:write"), async (c) => {
  const body = await readJsonBody(c, ActiveKeyBody);
  const keyId = assertKeyId(body.key_id);
  c.set("auditKeyId", keyId);
  const view = await setActiveKey(c.get("services").vend, keyId, c.get("caller").id);
  return c.json(successEnvelope(view));
});

activeKey.all("/", methodNotAllowed("GET, PUT"));
