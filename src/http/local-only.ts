// Routes that exist only in local development (src/dev.ts mounts them): everywhere else they are a plain 404,
// whatever the method. Local development is decided by the upstreams being loopback (src/auth/dev-mode.ts).
import { createMiddleware } from "hono/factory";
import { isLocalDevelopment } from "../auth/dev-mode";
import { Failure } from "../errors";
import type { AppEnv } from "./app-env";

export const localOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (!isLocalDevelopment(c.get("config")))
    throw new Failure("route_not_found", "no such route; see README.md for the API");
  await next();
});
