// The HTTP surface: each resource is its own Hono app, mounted here. One notFound, one onError.
import { Hono } from "hono";
import type { AppEnv } from "./http/app-env";
import { ApiError } from "./http/errors";
import { onError } from "./http/on-error";
import { requestContext } from "./http/request-context";
import { health } from "./routes/health";
import { keySecrets } from "./routes/key-secrets";
import { turnKeys } from "./routes/turn-keys";

export const app = new Hono<AppEnv>({ strict: true });

app.use(requestContext);
app.route("/", health);
app.route("/client/v4/accounts/:account_id/calls/turn_keys", turnKeys);
app.route("/v1/keys", keySecrets);

app.notFound(() => {
  throw new ApiError("route_not_found", "no such route; see README.md for the API");
});
app.onError(onError);

export type AppType = typeof app;
