// AES-256-GCM envelope for TURN key secrets. KEY_ENCRYPTION_KEY holds one or more
// "<kek_id>:<base64 32 bytes>" entries separated by commas: the first encrypts, all decrypt, so the
// key-encryption key can be rotated without re-encrypting every record at once.
import { ApiError } from "../http/errors";

export interface KeyRing {
  current: { id: string; key: CryptoKey };
  byId: ReadonlyMap<string, CryptoKey>;
}

export interface SealedSecret {
  v: 1;
  kek: string;
  iv: string;
  ct: string;
}

// Importing keys costs a few hundred microseconds; do it once per isolate per secret value.
let cached: { raw: string; ring: Promise<KeyRing> } | undefined;

export function keyRing(raw: string): Promise<KeyRing> {
  if (cached?.raw !== raw) cached = { raw, ring: importRing(raw) };
  return cached.ring;
}

const KEK_FORMAT = "expected <kek_id>:<base64 of 32 bytes>[,...]";

/** Splits KEY_ENCRYPTION_KEY into its entries, or says what is wrong (never echoing the value). */
export function parseKeyRing(
  raw: string,
): { ok: true; entries: { id: string; bytes: Uint8Array }[] } | { ok: false; problem: string } {
  const entries: { id: string; bytes: Uint8Array }[] = [];
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

async function importRing(raw: string): Promise<KeyRing> {
  const parsed = parseKeyRing(raw);
  if (!parsed.ok) throw new ApiError("not_configured", `KEY_ENCRYPTION_KEY is invalid: ${parsed.problem}`);
  const byId = new Map<string, CryptoKey>();
  let current: KeyRing["current"] | undefined;
  for (const { id, bytes } of parsed.entries) {
    const key = await crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]);
    byId.set(id, key);
    current ??= { id, key };
  }
  return { current: current!, byId };
}

/** The additional data binds a ciphertext to its key id: a record copied to another id won't open. */
function aad(keyId: string): Uint8Array {
  return new TextEncoder().encode(`turnvend:key-secret:v1:${keyId}`);
}

export async function seal(ring: KeyRing, keyId: string, secret: string): Promise<SealedSecret> {
  const iv = crypto.getRandomValues(new Uint8Array(12)); // fresh per write: GCM must never reuse an IV
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(keyId) },
    ring.current.key,
    new TextEncoder().encode(secret),
  );
  return { v: 1, kek: ring.current.id, iv: bytesToBase64(iv), ct: bytesToBase64(new Uint8Array(ct)) };
}

/** Opens a sealed secret. Anything tampered, truncated or sealed under an unknown key fails closed. */
export async function open(ring: KeyRing, keyId: string, sealed: unknown): Promise<string> {
  const fail = () =>
    new ApiError(
      "custody_failure",
      "the stored secret for this TURN key cannot be used; re-adopt the key or rotate it",
    );
  if (typeof sealed !== "object" || sealed === null) throw fail();
  const { v, kek, iv, ct } = sealed as Record<string, unknown>;
  if (v !== 1 || typeof kek !== "string" || typeof iv !== "string" || typeof ct !== "string") throw fail();
  const key = ring.byId.get(kek);
  if (!key) throw fail();
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: base64ToBytes(iv), additionalData: aad(keyId) },
      key,
      base64ToBytes(ct),
    );
    return new TextDecoder().decode(plain);
  } catch {
    throw fail();
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function base64ToBytes(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
