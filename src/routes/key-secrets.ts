// Adoption: take custody of the secret of a key created outside turnvend.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { successEnvelope } from "../http/errors";
import { audited } from "../http/audited";
import { methodNotAllowed } from "../http/method-not-allowed";
import { readJsonBody } from "../http/json-body";
import { requireCaller } from "../auth/require-caller";
import { keyDeps } from "../keys/deps";
import { adoptKeySecret } from "../keys/service";
import { keyIdParam } from "./params";
import { AdoptSecretBody } from "./schemas";

export const keySecrets = new Hono<AppEnv>();

keySecrets.put("/:key_id/secret", audited("turn_key.adopt"), requireCaller("keys:write"), async (c) => {
  const keyId = keyIdParam(c);
  const body = await readJsonBody(c, AdoptSecretBody);
  const key = await adoptKeySecret(keyDeps(c.env, c.get("config")), keyId, {
    secret: body.key,
    callerId: c.get("caller")!.id,
  });
  return c.json(successEnvelope({ ...key, has_secret: true }));
});

keySecrets.all("/:key_id/secret", methodNotAllowed("PUT"));
