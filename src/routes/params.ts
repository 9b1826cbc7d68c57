// Path parameters of the admin routes, checked before anything else happens with them.
import type { Context } from "hono";
import { Failure } from "../errors";
import type { CallerEnv } from "../http/require-caller";
import { assertKeyId } from "../ids";

/** The decoded key id, which must be exactly 32 lowercase hex: a crafted id can never steer a URL. */
export function keyIdParam(c: Context<CallerEnv>): string {
  return assertKeyId(c.req.param("key_id"));
}

/** The account in the path must be the one turnvend manages; other accounts are refused locally. */
export function checkAccount(c: Context<CallerEnv>): void {
  if (c.req.param("account_id") !== c.get("config").accountId) {
    throw new Failure("account_mismatch", "this turnvend manages a different Cloudflare account");
  }
}
