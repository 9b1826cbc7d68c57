// Adoption: take custody of the secret of a key created outside turnvend, or replace a wrong held one.
import { AdoptSecretBody } from "../contract/requests";
import type { AppEnv } from "../http/app-env";
import { audited } from "../http/audited";
import { successEnvelope } from "../http/envelope";
import { Hono } from "../http/hono";
import { readJsonBody } from "../http/json-body";
import { methodNotAllowed } from "../http/method-not-allowed";
import { requireCaller } from "../http/require-caller";
import { adoptKeySecret } from "../keys/updates";
import { keyIdParam } from "./params";

export const keySecrets = new Hono<AppEnv>();

keySecrets.put("/:key_id/secret", audited("turn_key.adopt"), requireCaller("keys:write"), async (c) => {
  const keyId = keyIdParam(c);
  const body = await readJsonBody(c, AdoptSecretBody);
  const { key, replaced } = await adoptKeySecret(c.get("services").keys, keyId, {
    secret: body.key,
    callerId: c.get("caller").id,
  });
  // Replacing a held secret is the event an auditor looks for, so it gets an action of its own.
  if (replaced) c.set("auditAction", "turn_key.secret_replace");
  return c.json(successEnvelope({ ...key, has_secret: true }));
});

keySecrets.all("/:key_id/secret", methodNotAllowed("PUT"));
