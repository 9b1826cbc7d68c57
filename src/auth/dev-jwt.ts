// Mints end-user JWTs for local development only, signed like an app's auth would sign them (HS256).
import { sign } from "hono/utils/jwt/jwt";
import { hmacKey } from "../crypto/hmac-key";

export async function mintDevJwt(input: {
  secret: string;
  issuer: string;
  audience: string;
  subject: string;
  ttlSeconds: number;
  now: number;
}): Promise<string> {
  const iat = Math.floor(input.now / 1000);
  // A CryptoKey, not the string: Hono reads a string key containing "PRIVATE" as a PEM.
  const key = await hmacKey(input.secret, "sign");
  // Header { alg: "HS256", typ: "JWT" }.
  return sign(
    { iss: input.issuer, aud: input.audience, sub: input.subject, iat, exp: iat + input.ttlSeconds },
    key,
    "HS256",
  );
}
