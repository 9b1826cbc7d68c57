// AES-256-GCM envelope for TURN key secrets. KEY_ENCRYPTION_KEY holds one or more
// "<kek_id>:<base64 32 bytes>" entries separated by commas: the first encrypts, all decrypt, so the
// key-encryption key can be rotated without re-encrypting every record at once.
import { parseKeyRing } from "../config/key-ring";
import { base64ToBytes, bytesToBase64 } from "../crypto/base64";
import { Failure } from "../errors";

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

async function importRing(raw: string): Promise<KeyRing> {
  const parsed = parseKeyRing(raw);
  if (!parsed.ok) throw new Failure("not_configured", `KEY_ENCRYPTION_KEY is invalid: ${parsed.problem}`);
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
    new Failure("custody_failure", "the stored secret for this TURN key cannot be used; re-adopt the key or rotate it");
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
