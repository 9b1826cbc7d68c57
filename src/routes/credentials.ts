// POST /v1/credentials/revoke: revoke outstanding credentials by username or by subject.
import { RevokeBody } from "../contract/requests";
import type { AppEnv } from "../http/app-env";
import { audited } from "../http/audited";
import { MESSAGE_CODES } from "../http/codes";
import { successEnvelope } from "../http/envelope";
import { Hono } from "../http/hono";
import { readJsonBody } from "../http/json-body";
import { methodNotAllowed } from "../http/method-not-allowed";
import { requireCaller } from "../http/require-caller";
import { revokeCredentials } from "../vend/revoke";

export const credentials = new Hono<AppEnv>();

credentials.post("/revoke", audited("credentials.revoke"), requireCaller("credentials:revoke"), async (c) => {
  const target = await readJsonBody(c, RevokeBody);
  const summary = await revokeCredentials(c.get("services").vend, target, c.get("caller").id);
  c.header("Cache-Control", "no-store");
  // The v4 envelope's messages carry the "call again" note, so the result keeps one shape.
  const messages: { code: number; message: string }[] = summary.remaining
    ? [
        {
          code: MESSAGE_CODES.revoke_incomplete,
          message: "more outstanding credentials remain for this subject; call revoke again",
        },
      ]
    : [];
  if (summary.notRevocable > 0) {
    messages.push({
      code: MESSAGE_CODES.not_revocable,
      message: `${summary.notRevocable} matching self-hosted credential(s) (by username: those of the same set) cannot be revoked (the TURN REST scheme has no revocation list); they stay valid until they expire`,
    });
  }
  const result =
    summary.notRevocable > 0
      ? { revoked: summary.revoked, not_revocable: summary.notRevocable }
      : { revoked: summary.revoked };
  return c.json(successEnvelope(result, messages));
});

credentials.all("/revoke", methodNotAllowed("POST"));
