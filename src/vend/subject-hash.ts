// The opaque per-user value: HMAC-SHA256(SUBJECT_HASH_KEY, subject) in hex, cut to 128 bits. It tags
// credentials upstream (customIdentifier), keys the ledger and the rate limiter; the raw subject goes
// nowhere outside this request.
import { SUBJECT_HASH_HEX_LENGTH } from "../constants";
import { bytesToHex } from "../crypto/hex";
import { hmacKey } from "../crypto/hmac-key";

/** The subject's keyed hash: stable for one SUBJECT_HASH_KEY, meaningless without it. */
export async function subjectHash(subjectHashKey: string, subject: string): Promise<string> {
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", await hmacKey(subjectHashKey, "sign"), new TextEncoder().encode(subject)),
  );
  return bytesToHex(mac).slice(0, SUBJECT_HASH_HEX_LENGTH);
}
