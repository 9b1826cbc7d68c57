// HMACs as a receiver or a TURN server computes them, written here from WebCrypto alone rather than imported
// from src/crypto, so a test checks turnvend's output against an independent computation.
async function hmac(hash: "SHA-256" | "SHA-1", secret: string, text: string): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(text)));
}

/** Hex HMAC-SHA256: subject hashes, webhook signatures. */
export async function hmacHex(secret: string, text: string): Promise<string> {
  return [...(await hmac("SHA-256", secret, text))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** base64(HMAC-SHA1(secret, username)), as coturn checks a TURN REST credential. */
export async function turnRest(secret: string, username: string): Promise<string> {
  return btoa(String.fromCharCode(...(await hmac("SHA-1", secret, username))));
}
