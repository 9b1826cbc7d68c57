// Path parameters of the admin routes, checked before anything else happens with them.
import type { Context } from "hono";
import { assertKeyId } from "../keys/key-id";
import type { AppEnv } from "../http/app-env";
import { ApiError } from "../http/errors";

/** The decoded key id, which must be exactly 32 lowercase hex: a crafted id can never steer a URL. */
export function keyIdParam(c: Context<AppEnv>): string {
  return assertKeyId(c.req.param("key_id"));
}

/** The account in the path must be the one turnvend manages; other accounts are refused locally. */
export function checkAccount(c: Context<AppEnv>): void {
  if (c.req.param("account_id") !== c.get("config").accountId) {
    throw new ApiError("account_mismatch", "this turnvend manages a different Cloudflare account");
  }
}
