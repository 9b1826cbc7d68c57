// The Worker as `npm start`, the benchmark and the workerd tests run it: the deployed Worker (src/index.ts)
// plus what serves only local development: GET /v1/dev/jwt (for the connectivity page and curl), GET
// /v1/dev/caller-token (for the usage page), and a meter of billable operations with GET /v1/dev/usage (for
// `npm run bench`). `wrangler deploy` bundles
// src/index.ts, which never imports this file, so none of it ships; the routes also refuse themselves
// unless the upstreams are loopback (src/http/local-only.ts).
import { buildApp } from "./app";
import worker from "./index";
import { installUsageMeter, reportUsage, type UsageKind } from "./observability/usage";
import { devCallerToken } from "./routes/dev-caller-token";
import { devJwt } from "./routes/dev-jwt";
import { devUsage } from "./routes/dev-usage";

export { AccountState } from "./objects/account-state";

export const app = buildApp((surface) => {
  surface.route("/v1/dev", devJwt);
  surface.route("/v1/dev", devUsage);
  surface.route("/v1/dev", devCallerToken);
});

installUsageMeter();

/** Calls of a binding's methods, counted as `kindOf(method)` (undefined: not counted). */
function counted<T extends object>(binding: T, kindOf: (method: string) => UsageKind | undefined) {
  // One wrapper per method, made once: the meter must not slow down what it measures.
  const wrappers = new Map<string, (...args: unknown[]) => unknown>();
  return new Proxy(binding, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      let wrapper = wrappers.get(prop);
      if (!wrapper) {
        const kind = kindOf(prop);
        wrapper = (...args: unknown[]) => {
          if (kind) reportUsage(kind);
          return (Reflect.get(target, prop) as (...a: unknown[]) => unknown).apply(target, args);
        };
        wrappers.set(prop, wrapper);
      }
      return wrapper;
    },
  });
}

const KV_KINDS: Record<string, UsageKind> = {
  get: "kv_reads",
  getWithMetadata: "kv_reads",
  put: "kv_writes",
  delete: "kv_deletes",
  list: "kv_lists",
};

// One metered env per env object: the configuration is cached per env object (src/config), so a fresh
// wrapper per request would re-read it every time.
const meteredEnvs = new WeakMap<Env, Env>();
function metered(env: Env): Env {
  let out = meteredEnvs.get(env);
  if (!out) {
    out = { ...env };
    if (env.TURNVEND_KV) out.TURNVEND_KV = counted(env.TURNVEND_KV, (m) => KV_KINDS[m]);
    for (const name of ["VEND_IP_LIMITER", "KEYS_REFRESH_LIMITER"] as const) {
      const limiter = env[name];
      if (limiter) out[name] = counted(limiter, (m) => (m === "limit" ? "rate_limit_calls" : undefined));
    }
    meteredEnvs.set(env, out);
  }
  return out;
}

export default {
  ...worker,
  fetch(request, env, ctx) {
    reportUsage("worker_requests");
    return app.fetch(request, metered(env), ctx);
  },
} satisfies ExportedHandler<Env>;

export { UserLedger, UsernameIndex } from "./index";
