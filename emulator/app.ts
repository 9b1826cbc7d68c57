import { Hono } from "hono";
import { controlRoutes, CONTROL_PATH } from "./control-routes.ts";
import { V4_CODES, v4Failure } from "./envelope.ts";
import { graphqlRoutes, GRAPHQL_PATH } from "./graphql-routes.ts";
import { resolveOptions } from "./options.ts";
import type { EmulatorOptions, ResolvedOptions } from "./options.ts";
import { credentialsRoutes, CREDENTIALS_PATH } from "./rtc-routes.ts";
import { createState } from "./state.ts";
import type { EmulatorState } from "./state.ts";
import { turnKeysRoutes, TURN_KEYS_PATH } from "./v4-routes.ts";

export type { EmulatorOptions } from "./options.ts";
export type { EmulatorState } from "./state.ts";

export type Emulator = {
  fetch(req: Request): Promise<Response>;
  /** Live state; tests in the same process may read it (or use the `/__emulator` routes over HTTP). */
  state: EmulatorState;
  options: ResolvedOptions;
};

/**
 * The two Cloudflare upstreams in one fetch handler: API v4 under `/client/v4`, rtc under `/v1`, plus
 * `/__emulator` control routes. Uses only Web APIs, so it runs in Node and in workerd alike.
 */
export function createEmulator(opts: EmulatorOptions = {}): Emulator {
  const options = resolveOptions(opts);
  const state = createState();
  const app = new Hono();

  app.route(TURN_KEYS_PATH, turnKeysRoutes(state, options));
  app.route(GRAPHQL_PATH, graphqlRoutes(state, options));
  app.route(CREDENTIALS_PATH, credentialsRoutes(state, options));
  app.route(CONTROL_PATH, controlRoutes(state));

  app.notFound((c) => {
    // Cloudflare answers unknown v4 paths in its envelope; elsewhere a flat JSON error is enough.
    if (c.req.path.startsWith("/client/v4/")) {
      return c.json(v4Failure([{ code: V4_CODES.noRoute, message: "No route for that URI" }]), 404);
    }
    return c.json({ error: "not found" }, 404);
  });

  app.onError((err, c) => {
    // The message only: request bodies (which may hold secrets) never reach the log.
    console.error(JSON.stringify({ event: "emulator.error", message: err.message }));
    return c.json({ error: "internal emulator error" }, 500);
  });

  return { fetch: async (req) => app.fetch(req), state, options };
}
