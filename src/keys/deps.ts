import type { Config } from "../config";
import { CloudflareApi } from "../upstream/cloudflare-api";
import { KeyIndex } from "../storage/key-index";
import { KeySecrets } from "../storage/key-secrets";
import type { KeyDeps } from "./service";

/** Wires the key service to this request's bindings and configuration. */
export function keyDeps(env: Env, config: Config): KeyDeps {
  return {
    api: new CloudflareApi(config),
    index: new KeyIndex(env.TURNVEND_KV),
    secrets: new KeySecrets(env.TURNVEND_KV, config.keyEncryptionKeys),
    freshSeconds: config.cacheFreshSeconds,
  };
}
