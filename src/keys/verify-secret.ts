// Proof that a secret is a TURN key's own, asked of Cloudflare: one credential minted with it, at the
// shortest lifetime and tagged as turnvend's probe, then revoked at once. Kept apart from adoption's
// orchestration so it can be reviewed alone.
import { ADOPTION_PROBE_IDENTIFIER, CREDENTIAL_TTL_MIN_SECONDS } from "../constants";
import { Failure } from "../errors";
import { log } from "../observability/log";
import { credentialUsernames, type RtcApi } from "../upstream/rtc-api";

/**
 * Resolves when Cloudflare takes `secret` as the key's. Throws secret_mismatch when Cloudflare refuses it,
 * and an upstream failure (502/503) when Cloudflare cannot say: either way the caller stores nothing.
 */
export async function verifyKeySecret(rtc: RtcApi, keyId: string, secret: string): Promise<void> {
  const answer = await rtc.generateWithCandidate(keyId, secret, {
    ttl: CREDENTIAL_TTL_MIN_SECONDS,
    customIdentifier: ADOPTION_PROBE_IDENTIFIER,
  });
  if (answer === "refused") {
    log("turn_key.secret_refused", { key_id: keyId });
    throw new Failure(
      "secret_mismatch",
      "Cloudflare refused this secret for this key: it is not this TURN key's secret, and nothing was stored",
    );
  }
  // Best effort: the probe expires within a minute anyway, and the proof does not depend on revoking it.
  const usernames = credentialUsernames(answer.iceServers);
  const results = await Promise.allSettled(usernames.map((username) => rtc.revoke(keyId, secret, username)));
  const failed = results.filter((r) => r.status === "rejected").length;
  if (failed > 0) log("turn_key.probe_revoke_failed", { key_id: keyId, failed });
}
