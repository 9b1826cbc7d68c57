import type { Config } from "../config";
import { CloudflareApi } from "../upstream/cloudflare-api";
import { Breaker } from "../upstream/breaker";
import { UpstreamBudget } from "../upstream/budget";
import { KeyIndex } from "../storage/key-index";
import { KeySecrets } from "../storage/key-secrets";
import type { KeyDeps } from "./service";
import type { CreateDeps } from "./create";
import { IdempotencyStore } from "../storage/idempotency";

/** Wires the key service to this request's bindings and configuration, with a fresh upstream budget. */
export function keyDeps(env: Env, config: Config, budget = new UpstreamBudget(config.upstreamTimeoutMs)): KeyDeps {
  return {
    api: new CloudflareApi(config, new Breaker(env.TURNVEND_KV), budget),
    index: new KeyIndex(env.TURNVEND_KV),
    secrets: new KeySecrets(env.TURNVEND_KV, config.keyEncryptionKeys),
    freshSeconds: config.cacheFreshSeconds,
    maxStaleSeconds: config.cacheMaxStaleSeconds,
  };
}

/** The key service plus what creation needs: idempotency records and work after the response. */
export function createDeps(env: Env, config: Config, waitUntil: (work: Promise<unknown>) => void): CreateDeps {
  return { ...keyDeps(env, config), idempotency: new IdempotencyStore(env.TURNVEND_KV), waitUntil };
}
