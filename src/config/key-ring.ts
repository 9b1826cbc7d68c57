// KEY_ENCRYPTION_KEY: one or more "<kek_id>:<base64 32 bytes>" entries separated by commas. The first
// seals, all open (src/storage/key-encryption.ts), so the key-encryption key can be rotated.
import { base64ToBytes } from "../crypto/base64";

export interface KeyRingEntry {
  id: string;
  bytes: Uint8Array;
}

const KEK_FORMAT = "expected <kek_id>:<base64 of 32 bytes>[,...]";

/** Splits KEY_ENCRYPTION_KEY into its entries, or says what is wrong (never echoing the value). */
export function parseKeyRing(raw: string): { ok: true; entries: KeyRingEntry[] } | { ok: false; problem: string } {
  const entries: KeyRingEntry[] = [];
  for (const entry of raw
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const sep = entry.indexOf(":");
    const id = entry.slice(0, sep);
    let bytes: Uint8Array;
    try {
      bytes = base64ToBytes(entry.slice(sep + 1));
    } catch {
      bytes = new Uint8Array();
    }
    if (sep <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || bytes.byteLength !== 32)
      return { ok: false, problem: KEK_FORMAT };
    entries.push({ id, bytes });
  }
  if (entries.length === 0) return { ok: false, problem: "it is empty" };
  return { ok: true, entries };
}
