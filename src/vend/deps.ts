import type { Config } from "../config";
import { USERNAME_INDEX_SHARDS } from "../constants";
import { AccountStateClient } from "../storage/account-state-client";
import { ActiveKeyStore } from "../storage/active-key";
import { KeySecrets } from "../storage/key-secrets";
import { Ledger } from "../storage/ledger";
import { UpstreamBudget } from "../upstream/budget";
import { RtcApi } from "../upstream/rtc-api";
import type { UserLedgerApi, UsernameIndexApi, VendPolicy } from "./objects-api";

/** Everything the vend and revoke functions need, as plain values and bindings. */
export interface VendDeps {
  rtc: RtcApi;
  /** The account object: the guard's account-wide state (kill switch, account budget). */
  account: AccountStateClient;
  rtcBaseUrl: string;
  secrets: KeySecrets;
  activeKeys: ActiveKeyStore;
  /** The user's own object, by subject hash. */
  users: (subjectHash: string) => UserLedgerApi;
  /** The username index: the shard a user's entries go to, and every shard (lookups ask them all). */
  usernames: { forSubject: (subjectHash: string) => UsernameIndexApi; all: () => UsernameIndexApi[] };
  /**
   * The KV ledger of earlier versions, read through (never written) until its records expire, 48 hours
   * after the upgrade at most: those credentials stay revocable.
   */
  legacyLedger: Ledger;
  pinnedKeyId: string | undefined;
  subjectHashKey: string;
  ipLimiter: RateLimit | undefined;
  upstreamTimeoutMs: number;
  policy: VendPolicy;
  /** Keeps work going after the response, e.g. `ctx.waitUntil`. */
  waitUntil: (work: Promise<unknown>) => void;
  /** Milliseconds since the epoch: Date.now, or a test's clock. */
  now: () => number;
}

/**
 * Wires the vend functions to this request's bindings and configuration, with a fresh upstream budget
 * (revocation and withdrawal take larger ones of their own).
 */
export function vendDeps(env: Env, config: Config, waitUntil: (work: Promise<unknown>) => void): VendDeps {
  const shard = (n: number): UsernameIndexApi =>
    env.USERNAME_INDEX.get(env.USERNAME_INDEX.idFromName(`usernames-v1-${n}`)) as unknown as UsernameIndexApi;
  const account = new AccountStateClient(env.ACCOUNT_STATE);
  return {
    rtc: new RtcApi(config.rtcBaseUrl, new UpstreamBudget(config.upstreamTimeoutMs)),
    account,
    rtcBaseUrl: config.rtcBaseUrl,
    secrets: new KeySecrets(env.TURNVEND_KV, config.keyEncryptionKeys),
    activeKeys: new ActiveKeyStore(account),
    users: (subjectHash) => env.USER_LEDGER.get(env.USER_LEDGER.idFromName(subjectHash)) as unknown as UserLedgerApi,
    usernames: {
      // By the subject hash, already at hand: no digest of the username on the vend path.
      forSubject: (subjectHash) => shard(Number.parseInt(subjectHash.slice(0, 8), 16) % USERNAME_INDEX_SHARDS),
      all: () => Array.from({ length: USERNAME_INDEX_SHARDS }, (_, n) => shard(n)),
    },
    legacyLedger: new Ledger(env.TURNVEND_KV),
    pinnedKeyId: config.pinnedKeyId,
    subjectHashKey: config.subjectHashKey,
    ipLimiter: env.VEND_IP_LIMITER,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    policy: {
      setsPerDay: config.credentialSetsPerDay,
      requestsPerMinute: config.credentialRequestsPerMinute,
      reuseSeconds: config.credentialReuseSeconds,
    },
    waitUntil,
    now: Date.now,
  };
}
