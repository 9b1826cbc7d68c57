// The signature on every alert turnvend posts to ALERT_WEBHOOK_URL (README, "Protecting the bill"):
//   Turnvend-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(ALERT_WEBHOOK_SECRET, "<t>.<raw body>")>
// The timestamp is signed with the body, so a receiver can refuse replays older than a few minutes.
import { hmacKey } from "./hmac-key";
import { bytesToHex } from "./hex";

export const SIGNATURE_HEADER = "Turnvend-Signature";

export async function webhookSignature(secret: string, timestamp: number, body: string): Promise<string> {
  const key = await hmacKey(secret, "sign");
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${body}`));
  return `t=${timestamp},v1=${bytesToHex(new Uint8Array(mac))}`;
}
