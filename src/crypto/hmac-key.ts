// HMAC-SHA256 keys made from configured secrets (SUBJECT_HASH_KEY, JWT_HS256_SECRET). Importing a key is
// cheap but not free and sits on the vend path, so each isolate imports each (secret, use) once; a changed
// secret (a new deploy) simply gets a new entry.
const keys = new Map<string, Promise<CryptoKey>>();

export function hmacSha256Key(secret: string, use: "sign" | "verify"): Promise<CryptoKey> {
  const id = `${use}:${secret}`;
  let key = keys.get(id);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      use,
    ]);
    keys.set(id, key);
  }
  return key;
}
