// GET /openapi.json: the OpenAPI 3.1 document, generated at build time by `npm run openapi`.
import { Hono } from "../http/hono";
import type { AppEnv } from "../http/app-env";
import { methodNotAllowed } from "../http/method-not-allowed";
import document from "../openapi/document.json";

export const openapi = new Hono<AppEnv>();

// Serialized once per isolate, on first use, not per request.
let body: string | undefined;

openapi.get("/openapi.json", (c) => {
  body ??= JSON.stringify(document);
  c.header("Content-Type", "application/json; charset=utf-8");
  c.header("Cache-Control", "public, max-age=300");
  return c.body(body);
});

openapi.all("/openapi.json", methodNotAllowed("GET"));
