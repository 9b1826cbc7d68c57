// The opaque per-user value: HMAC-SHA256(SUBJECT_HASH_KEY, subject) in hex, cut to 128 bits. It tags
// credentials upstream (customIdentifier), keys the ledger and the rate limiter; the raw subject goes
// nowhere outside this request.
import { SUBJECT_HASH_HEX_LENGTH } from "../constants";
import { bytesToHex } from "../crypto/hex";

// Importing an HMAC key is cheap but not free; do it once per isolate per secret value.
let cached: { raw: string; key: Promise<CryptoKey> } | undefined;

function hmacKey(raw: string): Promise<CryptoKey> {
  if (cached?.raw !== raw) {
    cached = { raw, key: crypto.subtle.importKey("raw", new TextEncoder().encode(raw), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]) };
  }
  return cached.key;
}

/** The subject's keyed hash: stable for one SUBJECT_HASH_KEY, meaningless without it. */
export async function subjectHash(subjectHashKey: string, subject: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(subjectHashKey), new TextEncoder().encode(subject)));
  return bytesToHex(mac).slice(0, SUBJECT_HASH_HEX_LENGTH);
}
