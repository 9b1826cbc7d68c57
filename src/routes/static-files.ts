// The static files in public/: the connectivity page (/ with its script and style), the browser helper
// (/ice-servers.js) and the OpenAPI document (/openapi.json). Workers Static Assets serves their GETs and
// HEADs before this Worker runs, with the headers in public/_headers, so they cost no Worker invocation and
// no bytes of the Worker bundle. The Worker sees only what assets does not answer: other methods (405),
// and a GET that is handed to it directly (tests call the Worker, not the edge), which it passes to the
// same assets.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { methodNotAllowed } from "../http/method-not-allowed";

export const STATIC_PATHS = ["/", "/connectivity.js", "/connectivity.css", "/ice-servers.js", "/openapi.json"] as const;

export const staticFiles = new Hono<AppEnv>();

for (const path of STATIC_PATHS) {
  staticFiles.get(path, async (c) => {
    const asset = await c.env.ASSETS.fetch(c.req.raw);
    // A fetched response's headers are immutable; the request-context middleware still adds its own.
    return new Response(asset.body, asset);
  });
  staticFiles.all(path, methodNotAllowed("GET"));
}
