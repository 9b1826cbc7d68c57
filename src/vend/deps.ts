import type { Config } from "../config";
import { AccountStateClient } from "../storage/account-state-client";
import { ActiveKeyStore } from "../storage/active-key";
import { KeySecrets } from "../storage/key-secrets";
import { Ledger } from "../storage/ledger";
import { UpstreamBudget } from "../upstream/budget";
import { RtcApi } from "../upstream/rtc-api";
import type { VendLimiters } from "./rate-limit";

/** Everything the vend and revoke functions need, as plain values and bindings. */
export interface VendDeps {
  rtc: RtcApi;
  secrets: KeySecrets;
  activeKeys: ActiveKeyStore;
  ledger: Ledger;
  pinnedKeyId: string | undefined;
  subjectHashKey: string;
  limiters: VendLimiters;
  upstreamTimeoutMs: number;
  /** CREDENTIAL_REUSE_SECONDS: how long a subject's last set may be handed out again (0: never). */
  reuseSeconds: number;
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
  return {
    rtc: new RtcApi(config.rtcBaseUrl, new UpstreamBudget(config.upstreamTimeoutMs)),
    secrets: new KeySecrets(env.TURNVEND_KV, config.keyEncryptionKeys),
    activeKeys: new ActiveKeyStore(new AccountStateClient(env.ACCOUNT_STATE)),
    ledger: new Ledger(env.TURNVEND_KV),
    pinnedKeyId: config.pinnedKeyId,
    subjectHashKey: config.subjectHashKey,
    limiters: { subject: env.VEND_SUBJECT_LIMITER, ip: env.VEND_IP_LIMITER },
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    reuseSeconds: config.credentialReuseSeconds,
    waitUntil,
    now: Date.now,
  };
}
