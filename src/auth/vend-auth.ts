// Who is asking for credentials: an internal caller holding credentials:issue, or an end user with a
// JWT from the app's own auth. Every refusal here happens before any upstream call.
import type { Config } from "../config";
import { Failure } from "../errors";
import { authenticateCaller, bearerToken, requireScopeOf, type Caller } from "./callers";
import { verifyEndUserJwt } from "./end-user-jwt";

export type VendIdentity = { kind: "caller"; caller: Caller } | { kind: "end_user"; subject: string };

/**
 * Caller tokens are tried first: the comparison is constant-time against hashes, so a JWT costs one
 * SHA-256 before its signature is checked, and a caller token never reaches the JWT parser.
 */
export async function authenticateVendRequest(
  authorization: string | undefined,
  config: Config,
): Promise<VendIdentity> {
  const token = bearerToken(authorization);
  if (!token)
    throw new Failure("unauthorized", "send an end-user JWT or a caller token as Authorization: Bearer <token>");
  const caller = await authenticateCaller(token, config.callers);
  if (caller) {
    requireScopeOf(caller, "credentials:issue");
    return { kind: "caller", caller };
  }
  if (!config.jwt)
    throw new Failure("unauthorized", "the token is not valid (end-user JWTs are not enabled on this turnvend)");
  const user = await verifyEndUserJwt(token, config.jwt);
  return { kind: "end_user", subject: user.subject };
}

/**
 * The subject credentials are vended for. An end user's is their token's `sub` and nothing else; an
 * internal caller names the user it serves.
 */
export function vendSubject(identity: VendIdentity, requested: string | undefined): string {
  if (identity.kind === "end_user") {
    if (requested !== undefined)
      throw new Failure("forbidden", "an end user cannot name a subject; the token's sub is the subject");
    return identity.subject;
  }
  if (requested === undefined)
    throw new Failure("invalid_request", "subject is required when an internal caller asks for credentials");
  return requested;
}
