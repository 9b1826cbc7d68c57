// Mints end-user JWTs for local development only, signed like an app's auth would sign them (HS256).
import { SignJWT } from "jose";

export async function mintDevJwt(input: { secret: string; issuer: string; audience: string; subject: string; ttlSeconds: number; now: number }): Promise<string> {
  const iat = Math.floor(input.now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(input.issuer)
    .setAudience(input.audience)
    .setSubject(input.subject)
    .setIssuedAt(iat)
    .setExpirationTime(iat + input.ttlSeconds)
    .sign(new TextEncoder().encode(input.secret));
}
