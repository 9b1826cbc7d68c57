// The TURN REST credential (draft-uberti-behave-turn-rest-00, coturn's use-auth-secret):
// base64(HMAC-SHA1(shared secret, username)). SHA-1 is what the scheme and coturn require; as an HMAC it is
// still sound.
import { bytesToBase64 } from "./base64";
import { hmacKey } from "./hmac-key";

export async function turnRestCredential(secret: string, username: string): Promise<string> {
  const key = await hmacKey(secret, "sign", "SHA-1");
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(username));
  return bytesToBase64(new Uint8Array(mac));
}
