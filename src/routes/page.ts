// GET /: the connectivity page, under a strict Content-Security-Policy with a fresh nonce per response.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { methodNotAllowed } from "../http/method-not-allowed";
import { readConfig } from "../config";
import { isLocalDevelopment } from "../auth/dev-mode";
import { connectivityPage } from "../page/connectivity";

export const page = new Hono<AppEnv>();

page.get("/", (c) => {
  const nonce = randomNonce();
  // The page works on a misconfigured turnvend too: it then shows the 503 from the vend route.
  const config = readConfig(c.env);
  const devMode = config.ok && isLocalDevelopment(config.config);
  c.header(
    "Content-Security-Policy",
    [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "connect-src 'self'",
      "img-src data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
  );
  c.header("Cache-Control", "no-store");
  c.header("X-Content-Type-Options", "nosniff");
  c.header("X-Frame-Options", "DENY");
  return c.html(connectivityPage({ nonce, devMode }));
});

page.all("/", methodNotAllowed("GET"));

/** 128 random bits, base64: unguessable, so only this response's own script and style run. */
function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
