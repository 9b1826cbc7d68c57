// What the key functions need, as plain values and bindings, and how a request or the cron wires them.
import type { Config } from "../config";
import { AccountStateClient } from "../storage/account-state-client";
import { KeyIndex } from "../storage/key-index";
import { KeySecrets } from "../storage/key-secrets";
import { UpstreamBudget } from "../upstream/budget";
import { CloudflareApi } from "../upstream/cloudflare-api";
import { RefreshAllowance } from "../upstream/refresh-allowance";
import { RtcApi } from "../upstream/rtc-api";
import { LeasedV4Gate } from "../upstream/v4-budget";

export interface KeyDeps {
  api: CloudflareApi;
  /** Credentials, minted with a key's own secret: adoption proves a secret with one. */
  rtc: RtcApi;
  index: KeyIndex;
  secrets: KeySecrets;
  /** The account object: creates run there; the v4 budget and the breaker live there. */
  account: AccountStateClient;
  /** Each caller's allowance of reads that reach Cloudflare (cache bypasses and misses). */
  allowance: RefreshAllowance;
  freshSeconds: number;
  /** How old a cached answer may be when upstream fails and turnvend serves it anyway. */
  maxStaleSeconds: number;
  /** Longest a single upstream attempt may wait, for work that takes an allowance of its own. */
  upstreamTimeoutMs: number;
  /** Milliseconds since the epoch: Date.now, or a test's clock. */
  now: () => number;
}

/** Wires the key functions to the bindings and configuration, with an upstream budget (a fresh one by default). */
export function keyDeps(env: Env, config: Config, budget = new UpstreamBudget(config.upstreamTimeoutMs)): KeyDeps {
  const account = new AccountStateClient(env.ACCOUNT_STATE);
  return {
    api: new CloudflareApi(config, new LeasedV4Gate(account), budget),
    rtc: new RtcApi(config.rtcBaseUrl, budget),
    index: new KeyIndex(env.TURNVEND_KV),
    secrets: new KeySecrets(env.TURNVEND_KV, config.keyEncryptionKeys),
    account,
    allowance: new RefreshAllowance(env.KEYS_REFRESH_LIMITER),
    freshSeconds: config.cacheFreshSeconds,
    maxStaleSeconds: config.cacheMaxStaleSeconds,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    now: Date.now,
  };
}
