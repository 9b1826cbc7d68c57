import { hmacSha1Base64, randomHex } from "./crypto.ts";
import type { EmulatorState, IssuedCredential } from "./state.ts";

/** Cloudflare's documented maximum credential lifetime (48 h). */
export const CREDENTIAL_TTL_MAX_SECONDS = 172_800;
/** Cloudflare documents no minimum; 1 s is the smallest lifetime that still means something. */
export const CREDENTIAL_TTL_MIN_SECONDS = 1;

export type MintedCredential = { username: string; credential: string; record: IssuedCredential };

/**
 * Mints a TURN REST (coturn `use-auth-secret`) credential and records it. The username is
 * "<unix expiry>:<random id>", never the customIdentifier: callers must not learn to parse it, and a
 * customIdentifier may be something the worker should not put on the wire to coturn.
 */
export async function mintCredential(
  state: EmulatorState,
  turnSecret: string,
  input: { keyId: string; ttl: number; customIdentifier: string | null },
  now: Date = new Date(),
): Promise<MintedCredential> {
  const expiresAtMs = now.getTime() + input.ttl * 1000;
  const username = `${Math.floor(expiresAtMs / 1000)}:${randomHex(8)}`;
  const credential = await hmacSha1Base64(turnSecret, username);
  const record: IssuedCredential = {
    username,
    keyId: input.keyId,
    customIdentifier: input.customIdentifier,
    ttl: input.ttl,
    issuedAt: now.toISOString(),
    expiresAt: new Date(expiresAtMs).toISOString(),
    revoked: false,
  };
  state.credentials.set(username, record);
  return { username, credential, record };
}
