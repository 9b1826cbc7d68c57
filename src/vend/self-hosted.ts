// The self-hosted provider: TURN REST credentials (draft-uberti-behave-turn-rest-00) that coturn's
// use-auth-secret and eturnal check with the shared secret alone, minted here with no network call.
// username = "<unix expiry>:<opaque id>", credential = base64(HMAC-SHA1(secret, username)). The id is the
// first 64 bits of the subject's keyed hash (so the TURN server's logs group a user's sessions, as
// customIdentifier does at Cloudflare, without the user id) and 32 random bits (so two sets of one user in the
// same second differ, and each username names one set in the ledger).
import type { IceServer } from "../contract/responses";
import { bytesToHex } from "../crypto/hex";
import { turnRestCredential } from "../crypto/turn-rest";

export interface SelfHostedProvider {
  urls: string[];
  /** The signing secret: the first entry of FALLBACK_TURN_SECRET. */
  secret: string;
  ttlMaxSeconds: number;
}

export interface SelfHostedSet {
  iceServers: IceServer[];
  username: string;
  /** Epoch ms, a whole second: the expiry the TURN server reads from the username. */
  expiresAt: number;
}

const isStun = (url: string) => /^stuns?:/i.test(url);

/** STUN URLs go in their own entry without a credential, TURN URLs together with it, as Cloudflare answers. */
export async function mintSelfHosted(
  provider: SelfHostedProvider,
  subjectHash: string,
  ttlSeconds: number,
  now: number,
): Promise<SelfHostedSet> {
  const lifetime = Math.min(ttlSeconds, provider.ttlMaxSeconds);
  const expiry = Math.floor(now / 1000) + lifetime;
  const nonce = bytesToHex(crypto.getRandomValues(new Uint8Array(4)));
  const username = `${expiry}:${subjectHash.slice(0, 16)}${nonce}`;
  const credential = await turnRestCredential(provider.secret, username);
  const stun = provider.urls.filter(isStun);
  const turn = provider.urls.filter((u) => !isStun(u));
  const iceServers: IceServer[] = [...(stun.length > 0 ? [{ urls: stun }] : []), { urls: turn, username, credential }];
  return { iceServers, username, expiresAt: expiry * 1000 };
}

/** The STUN URLs of a STUN-only answer: the fallback's own, else Cloudflare's public STUN server. */
export function stunOnly(fallbackUrls: string[] | undefined, publicStun: string): IceServer[] {
  const own = (fallbackUrls ?? []).filter(isStun);
  return [{ urls: own.length > 0 ? own : [publicStun] }];
}
