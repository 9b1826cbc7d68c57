// HMAC keys made from configured secrets (SUBJECT_HASH_KEY, JWT_HS256_SECRET, ALERT_WEBHOOK_SECRET, and
// FALLBACK_TURN_SECRET with SHA-1 for the TURN REST scheme). Importing a key is cheap but not free and sits on
// the vend path, so each isolate imports each (secret, use, hash) once; a changed secret (a new deploy) simply
// gets a new entry.
const keys = new Map<string, Promise<CryptoKey>>();

export function hmacKey(
  secret: string,
  use: "sign" | "verify",
  hash: "SHA-256" | "SHA-1" = "SHA-256",
): Promise<CryptoKey> {
  const id = `${hash}:${use}:${secret}`;
  let key = keys.get(id);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash }, false, [use]);
    keys.set(id, key);
  }
  return key;
}
