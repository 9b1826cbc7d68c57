// GET /ice-servers.js: the browser helper (src/page/ice-servers-js.ts), at a stable path.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { methodNotAllowed } from "../http/method-not-allowed";
import { ICE_SERVERS_JS } from "../page/ice-servers-js";

export const browserHelper = new Hono<AppEnv>();

browserHelper.get("/ice-servers.js", (c) => {
  c.header("Content-Type", "text/javascript; charset=utf-8");
  c.header("Cache-Control", "public, max-age=300");
  // Apps on other origins load it with <script type="module"> or import(), which need CORS. Safe: it is the
  // same public, static text for everyone and carries no credentials (and `*` forbids credentialed reads).
  c.header("Access-Control-Allow-Origin", "*");
  c.header("Cross-Origin-Resource-Policy", "cross-origin");
  return c.body(ICE_SERVERS_JS);
});

browserHelper.all("/ice-servers.js", methodNotAllowed("GET"));
