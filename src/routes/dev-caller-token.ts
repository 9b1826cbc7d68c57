// GET /v1/dev/caller-token: the published dev caller token `npm start` prints (scripts/dev-defaults.mjs), for
// the usage page's "use the dev token" button, so no static file ever holds a token. It exists only in local
// development (src/http/local-only.ts), and answers only while CALLERS still holds the dev caller: with
// CALLERS replaced in .dev.vars the token would not work, and the page asks for one to be pasted.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { Failure } from "../errors";
import { sha256Hex } from "../crypto/hex";
import { successEnvelope } from "../http/envelope";
import { localOnly } from "../http/local-only";
import { methodNotAllowed } from "../http/method-not-allowed";

/** Published with the other dev defaults; refused by any deployment (src/config/dev-defaults.ts). */
const DEV_CALLER_TOKEN = "dev-admin-token";

export const devCallerToken = new Hono<AppEnv>();

devCallerToken.use("/caller-token", localOnly);

devCallerToken.get("/caller-token", async (c) => {
  c.header("Cache-Control", "no-store");
  const hash = await sha256Hex(DEV_CALLER_TOKEN);
  const caller = c.get("config").callers.find((entry) => entry.tokenSha256 === hash);
  if (!caller) throw new Failure("not_configured", "CALLERS does not hold the dev caller: paste a caller token");
  return c.json(successEnvelope({ token: DEV_CALLER_TOKEN, caller: caller.id, scopes: [...caller.scopes].sort() }));
});

devCallerToken.all("/caller-token", methodNotAllowed("GET"));
