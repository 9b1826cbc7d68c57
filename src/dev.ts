// The Worker as `npm start` and the workerd tests run it: the deployed Worker (src/index.ts) plus the
// routes that serve only local development (GET /v1/dev/jwt, for the connectivity page and curl).
// `wrangler deploy` bundles src/index.ts, which never imports this file, so none of it ships; the route
// also refuses itself unless the upstreams are loopback (src/routes/dev-jwt.ts).
import { buildApp } from "./app";
import worker from "./index";
import { devJwt } from "./routes/dev-jwt";

export { AccountState } from "./objects/account-state";

export const app = buildApp((surface) => surface.route("/v1/dev", devJwt));

export default { ...worker, fetch: app.fetch } satisfies ExportedHandler<Env>;
