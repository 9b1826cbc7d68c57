// TURN REST credentials (draft-uberti-behave-turn-rest-00), minted exactly as the emulator and coturn
// compute them: username "<unix expiry>:<id>", credential base64(HMAC-SHA1(shared secret, username)).
// Written here with node:crypto, apart from the emulator's Web Crypto code, so the tests also check
// that the emulator signs the way coturn verifies.
import { createHmac } from "node:crypto";

/** The credential coturn expects for `username` under `secret`. */
export function turnRestCredential(secret, username) {
  return createHmac("sha1", secret).update(username).digest("base64");
}

/** A credential for `id` that expires at `expiryUnixSeconds` (which may be in the past). */
export function mintTurnRest(secret, { expiryUnixSeconds, id }) {
  const username = `${expiryUnixSeconds}:${id}`;
  return { username, credential: turnRestCredential(secret, username) };
}

/**
 * Splits an emulator username. Only the e2e tests may do this: the emulator's usernames follow the
 * coturn scheme, while real Cloudflare usernames are opaque and must never be parsed.
 */
export function splitEmulatorUsername(username) {
  const match = /^(\d+):(.+)$/.exec(username);
  if (!match) throw new Error(`not an emulator (coturn-scheme) username: ${username}`);
  return { expiryUnixSeconds: Number(match[1]), id: match[2] };
}
