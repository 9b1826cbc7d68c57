// POST /v1/credentials/revoke: revoke outstanding credentials by username or by subject.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { successEnvelope } from "../http/errors";
import { readJsonBody } from "../http/json-body";
import { audited } from "../http/audited";
import { methodNotAllowed } from "../http/method-not-allowed";
import { requireCaller } from "../auth/require-caller";
import { REVOKE_ATTEMPT_BUDGET, REVOKE_DEADLINE_MS } from "../constants";
import { UpstreamBudget } from "../upstream/budget";
import { vendDeps } from "../vend/deps";
import { revokeCredentials } from "../vend/revoke";
import { RevokeBody } from "./vend-schemas";

export const credentials = new Hono<AppEnv>();

/** Code of the envelope message saying a capped revocation left credentials for another call. */
const REVOKE_INCOMPLETE_MESSAGE_CODE = 10050;

credentials.post("/revoke", audited("credentials.revoke"), requireCaller("credentials:revoke"), async (c) => {
  const body = await readJsonBody(c, RevokeBody);
  const target = body.username !== undefined ? { username: body.username } : { subject: body.subject! };
  const result = await revokeCredentials(
    vendDeps(
      c.env,
      c.get("config"),
      (w) => c.executionCtx.waitUntil(w),
      new UpstreamBudget(c.get("config").upstreamTimeoutMs, REVOKE_ATTEMPT_BUDGET, REVOKE_DEADLINE_MS),
    ),
    target,
    c.get("caller")!.id,
  );
  c.header("Cache-Control", "no-store");
  const envelope = successEnvelope({ revoked: result.revoked });
  if (!result.remaining) return c.json(envelope);
  // The v4 envelope's messages carry the "call again" note, so the result keeps one shape.
  return c.json({
    ...envelope,
    messages: [
      {
        code: REVOKE_INCOMPLETE_MESSAGE_CODE,
        message: "more outstanding credentials remain for this subject; call revoke again",
      },
    ],
  });
});

credentials.all("/revoke", methodNotAllowed("POST"));
