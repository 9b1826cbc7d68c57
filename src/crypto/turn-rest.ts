// The TURN REST credential (draft-uberti-behave-turn-rest-00, coturn's use-auth-secret):
// base64(HMAC-SHA1(shared secret, username)). SHA-1 is what the scheme and coturn require; as an HMAC it is
// still sound. Each isolate imports each secret's key once.
import { bytesToBase64 } from "./base64";

const keys = new Map<string, Promise<CryptoKey>>();

export async function turnRestCredential(secret: string, username: string): Promise<string> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-1" }, false, [
      "sign",
    ]);
    keys.set(secret, key);
  }
  const mac = await crypto.subtle.sign("HMAC", await key, new TextEncoder().encode(username));
  return bytesToBase64(new Uint8Array(mac));
}
