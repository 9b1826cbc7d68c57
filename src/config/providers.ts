// Where TURN comes from (README, "When Cloudflare's TURN API fails"): TURN_PROVIDER_MODE, the self-hosted
// provider (FALLBACK_TURN_URLS, FALLBACK_TURN_SECRET, FALLBACK_TTL_MAX_SECONDS), the vend's deadline on
// Cloudflare (VEND_UPSTREAM_DEADLINE_MS), VEND_FAIL_OPEN and ICE_URLS. Problems name settings, never values.
import {
  CREDENTIAL_TTL_CAP_SECONDS,
  CREDENTIAL_TTL_MIN_SECONDS,
  FALLBACK_SECRET_MIN_BYTES,
  FALLBACK_TTL_MAX_SECONDS_DEFAULT,
  VEND_UPSTREAM_DEADLINE_MS_DEFAULT,
  VEND_UPSTREAM_DEADLINE_MS_MAX,
  VEND_UPSTREAM_DEADLINE_MS_MIN,
} from "../constants";
import { parseIceUrl } from "../ice-url";

export const PROVIDER_MODES = ["cloudflare", "failover", "both", "self-hosted"] as const;
export type ProviderMode = (typeof PROVIDER_MODES)[number];

export interface FallbackSettings {
  /** FALLBACK_TURN_URLS: stun:, turn: and turns: URLs of the operator's own TURN servers. */
  urls: string[];
  /** FALLBACK_TURN_SECRET, split on commas: the first signs; the others are only kept for the TURN server. */
  signingSecret: string;
  /** Longest lifetime of a self-hosted credential: they cannot be revoked. */
  ttlMaxSeconds: number;
}

export interface ProviderSettings {
  mode: ProviderMode;
  /** Present whenever FALLBACK_TURN_URLS is set (required by every mode but cloudflare). */
  fallback: FallbackSettings | undefined;
  /** VEND_UPSTREAM_DEADLINE_MS: a vend's whole allowance for Cloudflare's credential API, retries included. */
  vendDeadlineMs: number;
  /** VEND_FAIL_OPEN: "stun" answers 200 with STUN only when no TURN can be had; "off" answers the failure. */
  failOpen: "off" | "stun";
  /** ICE_URLS. */
  iceUrls: "all" | "minimal";
}

type Str = (name: keyof Env) => string;
type Int = (name: keyof Env, fallback: number, min: number, max: number) => number;

export function providerSettings(str: Str, int: Int, problems: string[], local: boolean): ProviderSettings {
  const modeRaw = str("TURN_PROVIDER_MODE") || "cloudflare";
  const mode = (PROVIDER_MODES as readonly string[]).includes(modeRaw) ? (modeRaw as ProviderMode) : "cloudflare";
  if (mode !== modeRaw) problems.push(`TURN_PROVIDER_MODE must be one of ${PROVIDER_MODES.join(", ")}`);

  const urlsRaw = str("FALLBACK_TURN_URLS");
  const secretRaw = str("FALLBACK_TURN_SECRET");
  const ttlMaxSeconds = int(
    "FALLBACK_TTL_MAX_SECONDS",
    FALLBACK_TTL_MAX_SECONDS_DEFAULT,
    CREDENTIAL_TTL_MIN_SECONDS,
    CREDENTIAL_TTL_CAP_SECONDS,
  );
  const needsFallback = mode !== "cloudflare";
  let fallback: FallbackSettings | undefined;
  // The secret alone configures nothing: wrangler.toml lists it as required, so deployments without a fallback
  // hold a placeholder.
  if (urlsRaw || needsFallback) {
    const urls = urlsRaw
      .split(",")
      .map((u) => u.trim())
      .filter(Boolean);
    const why = ` (TURN_PROVIDER_MODE=${mode} needs it)`;
    if (urls.length === 0) problems.push(`FALLBACK_TURN_URLS is missing${why}`);
    const bad = urls.findIndex((u) => !isFallbackUrl(u));
    if (bad >= 0)
      problems.push(
        `FALLBACK_TURN_URLS entry ${bad} is not a stun:, turn: or turns: URL (e.g. turns:turn.example.com:443?transport=tcp) and not on port 53`,
      );
    else if (urls.length > 0 && !urls.some((u) => /^turns?:/i.test(u)))
      problems.push("FALLBACK_TURN_URLS lists no turn: or turns: URL");
    const secrets = secretRaw.split(",").map((s) => s.trim());
    if (!secretRaw)
      problems.push(`FALLBACK_TURN_SECRET is missing${needsFallback ? why : " (needed with FALLBACK_TURN_URLS)"}`);
    else if (secrets.some((s) => s === "")) problems.push("FALLBACK_TURN_SECRET has an empty entry");
    else if (!local && new TextEncoder().encode(secrets[0]).byteLength < FALLBACK_SECRET_MIN_BYTES)
      problems.push(`FALLBACK_TURN_SECRET's first (signing) entry must be at least ${FALLBACK_SECRET_MIN_BYTES} bytes`);
    fallback = { urls, signingSecret: secrets[0], ttlMaxSeconds };
  }

  const vendDeadlineMs = int(
    "VEND_UPSTREAM_DEADLINE_MS",
    VEND_UPSTREAM_DEADLINE_MS_DEFAULT,
    VEND_UPSTREAM_DEADLINE_MS_MIN,
    VEND_UPSTREAM_DEADLINE_MS_MAX,
  );
  const failOpenRaw = str("VEND_FAIL_OPEN") || "off";
  if (failOpenRaw !== "off" && failOpenRaw !== "stun") problems.push('VEND_FAIL_OPEN must be "off" or "stun"');
  const iceUrlsRaw = str("ICE_URLS") || "all";
  if (iceUrlsRaw !== "all" && iceUrlsRaw !== "minimal") problems.push('ICE_URLS must be "all" or "minimal"');
  return {
    mode,
    fallback,
    vendDeadlineMs,
    failOpen: failOpenRaw === "stun" ? "stun" : "off",
    iceUrls: iceUrlsRaw === "minimal" ? "minimal" : "all",
  };
}

function isFallbackUrl(url: string): boolean {
  const parsed = parseIceUrl(url);
  return parsed !== undefined && ["stun", "turn", "turns"].includes(parsed.scheme) && parsed.port !== 53;
}
