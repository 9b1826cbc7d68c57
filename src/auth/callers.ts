// Bearer-token authentication of internal callers, compared in constant time against token hashes.
import type { CallerEntry } from "../config";
import type { Scope } from "../scopes";
import { Failure } from "../errors";

export interface Caller {
  /** The display id from the caller table: logs, the audit trail, `created_by`. */
  id: string;
  /**
   * Who authenticated: `caller:<token_sha256>` or `access:<common_name>`. It keys what a caller may
   * read back later (idempotent replays), and stays the same when an operator renames the id, edits
   * scopes or reorders a table. It holds a token hash, so it is never logged.
   */
  principal: string;
  scopes: ReadonlySet<Scope>;
}

// RFC 6750 b64token: the whole header must be exactly "Bearer <token>"; trailing junk is refused.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

/** Extracts the bearer token, or undefined when the header is absent or malformed. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  return BEARER.exec(header)?.[1];
}

/** Finds the caller whose token hash matches, checking every entry so timing reveals nothing. */
export async function authenticateCaller(token: string, callers: readonly CallerEntry[]): Promise<Caller | undefined> {
  const presented = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  let found: CallerEntry | undefined;
  for (const caller of callers) {
    const expected = hexToBytes(caller.tokenSha256);
    if (crypto.subtle.timingSafeEqual(presented, expected) && !found) found = caller;
  }
  return found ? { id: found.id, principal: `caller:${found.tokenSha256}`, scopes: found.scopes } : undefined;
}

export function requireScopeOf(caller: Caller, scope: Scope): void {
  if (!caller.scopes.has(scope)) {
    throw new Failure("forbidden", `this caller lacks the ${scope} scope`);
  }
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
