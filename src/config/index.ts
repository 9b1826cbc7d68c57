// Reads and validates the Worker's configuration. Missing or invalid settings fail closed: the routes
// that need them answer 503 naming the setting, and /healthz lists them.
import {
  CREDENTIAL_REQUESTS_PER_MINUTE_DEFAULT,
  CREDENTIAL_REQUESTS_PER_MINUTE_MAX,
  CREDENTIAL_REUSE_MAX_SECONDS,
  CREDENTIAL_SETS_PER_DAY_DEFAULT,
  CREDENTIAL_SETS_PER_DAY_MAX,
  CREDENTIAL_TTL_CAP_SECONDS,
  CREDENTIAL_TTL_DEFAULT_SECONDS,
  CREDENTIAL_TTL_MIN_SECONDS,
  HS256_SECRET_MIN_BYTES,
  JWT_MAX_LIFETIME_DEFAULT_SECONDS,
  JWT_MAX_LIFETIME_MAX_SECONDS,
  JWT_MAX_LIFETIME_MIN_SECONDS,
  UPSTREAM_TIMEOUT_MS,
  V4_BUDGET_DEFAULT_PER_5_MIN,
  V4_BURST_SHARE,
  V4_LIMIT_PER_5_MIN,
  V4_WRITE_RESERVE_DEFAULT,
} from "../constants";
import { Failure } from "../errors";
import { ACCOUNT_ID_PATTERN, KEY_ID_PATTERN } from "../ids";
import { type AccessCallerEntry, type CallerEntry, idsInBothTables, parseAccessCallers, parseCallers } from "./callers";
import { devDefaultProblems } from "./dev-defaults";
import { type GuardSettings, guardSettings } from "./guard";
import { type KeyRingEntry, parseKeyRing } from "./key-ring";
import { type ProviderSettings, providerSettings } from "./providers";

export type { AccessCallerEntry, CallerEntry } from "./callers";
export type { GuardSettings } from "./guard";
export type { FallbackSettings, ProviderMode, ProviderSettings } from "./providers";

export interface AccessSettings {
  /** `https://<team>.cloudflareaccess.com`: the only accepted `iss`. */
  issuer: string;
  /** The Access application's AUD tag: the only accepted `aud`. */
  audience: string;
  /** `<issuer>/cdn-cgi/access/certs`, or the ACCESS_JWKS_URL override (tests, local runs). */
  jwksUrl: string;
  callers: readonly AccessCallerEntry[];
}

export interface Config {
  accountId: string;
  apiToken: string;
  apiBaseUrl: string;
  rtcBaseUrl: string;
  cacheFreshSeconds: number;
  cacheMaxStaleSeconds: number;
  upstreamTimeoutMs: number;
  keyEncryptionKeys: string;
  callers: CallerEntry[];
  subjectHashKey: string;
  ttlDefaultSeconds: number;
  ttlMaxSeconds: number;
  /** CREDENTIAL_REUSE_SECONDS: 0 (off) or the per-subject reuse window, kept by each user's object. */
  credentialReuseSeconds: number;
  /** CREDENTIAL_SETS_PER_DAY: sets one user may get in a rolling 24 hours; 0 = no quota. */
  credentialSetsPerDay: number;
  /** CREDENTIAL_REQUESTS_PER_MINUTE: vend requests one user may make in a rolling minute; 0 = no bound. */
  credentialRequestsPerMinute: number;
  allowedOrigins: ReadonlySet<string>;
  /** End-user JWT verification; maxLifetimeSeconds is JWT_MAX_LIFETIME_SECONDS. */
  jwt:
    | { issuer: string; audience: string; jwksUrl?: string; hs256Secret?: string; maxLifetimeSeconds: number }
    | undefined;
  pinnedKeyId: string | undefined;
  auditRetentionDays: number;
  /** Cloudflare Access service tokens for internal callers; undefined when the ACCESS_* settings are unset. */
  access: AccessSettings | undefined;
  /** turnvend's own budget of v4 calls, kept by the account object (src/upstream/v4-bucket.ts). */
  v4Budget: V4BudgetSettings;
  /** The bill's guard: budgets, thresholds, leak action, analytics token, alert webhook. */
  guard: GuardSettings;
  /** Where TURN comes from when Cloudflare's credential API fails, and the ICE URL policy (./providers.ts). */
  providers: ProviderSettings;
}

export interface V4BudgetSettings {
  /** V4_BUDGET_PER_5_MIN: the most v4 calls turnvend makes in any 5 minutes. */
  perFiveMinutes: number;
  /** The most the bucket holds at once: V4_BURST_SHARE of the budget. */
  burst: number;
  /** V4_WRITE_RESERVE: tokens of the bucket only writes may spend. */
  writeReserve: number;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

// Parsing is pure and cheap but runs on every request; the env object is stable within an isolate.
const cache = new WeakMap<object, ConfigResult>();

export function readConfig(env: Env): ConfigResult {
  const hit = cache.get(env);
  if (hit) return hit;
  const result = parse(env);
  cache.set(env, result);
  return result;
}

/** The configuration, or the 503 that names what is missing. */
export function requireConfig(env: Env): Config {
  const result = readConfig(env);
  if (result.ok) return result.config;
  throw new Failure("not_configured", `turnvend is not configured: ${result.problems.join("; ")}`);
}

function parse(env: Env): ConfigResult {
  const problems: string[] = [];
  const str = (name: keyof Env): string => {
    const value = env[name];
    return typeof value === "string" ? value.trim() : "";
  };
  const required = (name: keyof Env): string => {
    const value = str(name);
    if (!value) problems.push(`${String(name)} is missing`);
    return value;
  };
  const int = (name: keyof Env, fallback: number, min: number, max: number): number => {
    const raw = str(name);
    if (!raw) return fallback;
    const n = Number(raw);
    // Digits only: Number() would also read "0x10", "1e3" or "5.0" as integers.
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      problems.push(`${String(name)} must be an integer in [${min}, ${max}]`);
      return fallback;
    }
    return n;
  };

  const accountId = required("CLOUDFLARE_ACCOUNT_ID");
  if (accountId && !ACCOUNT_ID_PATTERN.test(accountId))
    problems.push("CLOUDFLARE_ACCOUNT_ID must be 32 lowercase hex characters");
  const apiToken = required("CLOUDFLARE_API_TOKEN");
  const keyEncryptionKeys = required("KEY_ENCRYPTION_KEY");
  let keyRing: KeyRingEntry[] = [];
  if (keyEncryptionKeys) {
    const ring = parseKeyRing(keyEncryptionKeys);
    if (ring.ok) keyRing = ring.entries;
    else problems.push(`KEY_ENCRYPTION_KEY is invalid: ${ring.problem}`);
  }
  const subjectHashKey = required("SUBJECT_HASH_KEY");
  if (!env.TURNVEND_KV) problems.push("the TURNVEND_KV namespace binding is missing");
  if (!env.KEYS_REFRESH_LIMITER) problems.push("the KEYS_REFRESH_LIMITER rate limiting binding is missing");
  if (!env.USER_LEDGER) problems.push("the USER_LEDGER Durable Object binding is missing");
  if (!env.USERNAME_INDEX) problems.push("the USERNAME_INDEX Durable Object binding is missing");
  if (!env.ACCOUNT_STATE) problems.push("the ACCOUNT_STATE Durable Object binding is missing");

  const apiBaseUrl = urlSetting(
    "CF_API_BASE_URL",
    str("CF_API_BASE_URL") || "https://api.cloudflare.com/client/v4",
    problems,
  );
  const rtcBaseUrl = urlSetting(
    "RTC_API_BASE_URL",
    str("RTC_API_BASE_URL") || "https://rtc.live.cloudflare.com/v1",
    problems,
  );

  let callers: CallerEntry[] = [];
  const callersRaw = required("CALLERS");
  if (callersRaw) {
    const parsed = parseCallers(callersRaw);
    if (parsed.ok) callers = parsed.callers;
    else problems.push(`CALLERS is invalid: ${parsed.problem}`);
  }

  const ttlMaxSeconds = int(
    "CREDENTIAL_TTL_MAX_SECONDS",
    CREDENTIAL_TTL_CAP_SECONDS,
    CREDENTIAL_TTL_MIN_SECONDS,
    CREDENTIAL_TTL_CAP_SECONDS,
  );
  const ttlDefaultSeconds = int(
    "CREDENTIAL_TTL_DEFAULT_SECONDS",
    CREDENTIAL_TTL_DEFAULT_SECONDS,
    CREDENTIAL_TTL_MIN_SECONDS,
    CREDENTIAL_TTL_CAP_SECONDS,
  );
  if (ttlDefaultSeconds > ttlMaxSeconds)
    problems.push("CREDENTIAL_TTL_DEFAULT_SECONDS must not exceed CREDENTIAL_TTL_MAX_SECONDS");
  const credentialReuseSeconds = int("CREDENTIAL_REUSE_SECONDS", 0, 0, CREDENTIAL_REUSE_MAX_SECONDS);
  const credentialSetsPerDay = int(
    "CREDENTIAL_SETS_PER_DAY",
    CREDENTIAL_SETS_PER_DAY_DEFAULT,
    0,
    CREDENTIAL_SETS_PER_DAY_MAX,
  );
  const credentialRequestsPerMinute = int(
    "CREDENTIAL_REQUESTS_PER_MINUTE",
    CREDENTIAL_REQUESTS_PER_MINUTE_DEFAULT,
    0,
    CREDENTIAL_REQUESTS_PER_MINUTE_MAX,
  );

  const pinnedKeyId = str("TURN_KEY_ID") || undefined;
  if (pinnedKeyId && !KEY_ID_PATTERN.test(pinnedKeyId))
    problems.push("TURN_KEY_ID must be 32 lowercase hex characters");

  const issuer = str("JWT_ISSUER");
  const audience = str("JWT_AUDIENCE");
  const jwksUrl = str("JWT_JWKS_URL") || undefined;
  const hs256Secret = str("JWT_HS256_SECRET") || undefined;
  const maxLifetimeSeconds = int(
    "JWT_MAX_LIFETIME_SECONDS",
    JWT_MAX_LIFETIME_DEFAULT_SECONDS,
    JWT_MAX_LIFETIME_MIN_SECONDS,
    JWT_MAX_LIFETIME_MAX_SECONDS,
  );
  let jwt: Config["jwt"];
  if (jwksUrl || hs256Secret) {
    if (!issuer) problems.push("JWT_ISSUER is missing (needed to verify end-user JWTs)");
    if (!audience) problems.push("JWT_AUDIENCE is missing (needed to verify end-user JWTs)");
    if (jwksUrl) urlSetting("JWT_JWKS_URL", jwksUrl, problems);
    // RFC 7518 §3.2: an HS256 key shorter than the hash can be guessed offline from any token it signed.
    if (
      !jwksUrl &&
      hs256Secret &&
      new TextEncoder().encode(hs256Secret).byteLength < HS256_SECRET_MIN_BYTES &&
      !isLocalUpstream(apiBaseUrl, rtcBaseUrl)
    ) {
      problems.push(`JWT_HS256_SECRET must be at least ${HS256_SECRET_MIN_BYTES} bytes`);
    }
    jwt = { issuer, audience, jwksUrl, hs256Secret, maxLifetimeSeconds };
  }

  const access = accessSettings(str, problems);
  if (access) problems.push(...idsInBothTables(callers, access.callers));

  // Every numeric setting is read before the verdict, so a bad value is a problem, never a silent default.
  const cacheFreshSeconds = int("CACHE_FRESH_SECONDS", 60, 0, 86_400);
  const cacheMaxStaleSeconds = int("CACHE_MAX_STALE_SECONDS", 86_400, 0, 30 * 86_400);
  const upstreamTimeoutMs = int("UPSTREAM_TIMEOUT_MS", UPSTREAM_TIMEOUT_MS, 100, 30_000);
  const auditRetentionDays = int("AUDIT_RETENTION_DAYS", 30, 1, 365);
  const v4Budget = v4BudgetSettings(int);
  // Any setting by name, the optional secrets included (wrangler.toml does not declare them, so Env lacks them).
  const anySetting = (name: string): string => {
    const value = (env as unknown as Record<string, unknown>)[name];
    return typeof value === "string" ? value.trim() : "";
  };
  const guard = guardSettings(
    anySetting,
    apiToken,
    isLocalUpstream(apiBaseUrl, rtcBaseUrl),
    isLoopback,
    Boolean(env.ALERTS),
    problems,
  );
  const providers = providerSettings(str, int, problems, isLocalUpstream(apiBaseUrl, rtcBaseUrl));

  // A deployed Worker must never run on the published dev defaults: they are honoured only when the
  // upstream is the loopback emulator, which a deployed Worker cannot reach.
  if (!isLocalUpstream(apiBaseUrl, rtcBaseUrl))
    problems.push(...devDefaultProblems({ setting: anySetting, keyRing, callers }));

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: {
      accountId,
      apiToken,
      apiBaseUrl,
      rtcBaseUrl,
      cacheFreshSeconds,
      cacheMaxStaleSeconds,
      upstreamTimeoutMs,
      keyEncryptionKeys,
      callers,
      subjectHashKey,
      ttlDefaultSeconds,
      ttlMaxSeconds,
      credentialReuseSeconds,
      credentialSetsPerDay,
      credentialRequestsPerMinute,
      allowedOrigins: new Set(
        str("ALLOWED_ORIGINS")
          .split(",")
          .map((o) => o.trim())
          .filter(Boolean),
      ),
      jwt,
      pinnedKeyId,
      auditRetentionDays,
      access,
      v4Budget,
      guard,
      providers,
    },
  };
}

/** The budget must leave reads something: the write reserve is less than the burst. */
function v4BudgetSettings(
  int: (name: keyof Env, fallback: number, min: number, max: number) => number,
): V4BudgetSettings {
  // At least 8 calls, so the burst holds 2 and a reserve of 1 still leaves reads one.
  const perFiveMinutes = int("V4_BUDGET_PER_5_MIN", V4_BUDGET_DEFAULT_PER_5_MIN, 8, V4_LIMIT_PER_5_MIN);
  const burst = Math.floor(perFiveMinutes * V4_BURST_SHARE);
  const writeReserve = int("V4_WRITE_RESERVE", Math.min(V4_WRITE_RESERVE_DEFAULT, burst - 1), 0, burst - 1);
  return { perFiveMinutes, burst, writeReserve };
}

/** A team domain as Access issues it: `<team>.cloudflareaccess.com`, lowercase (it becomes the exact `iss`). */
const ACCESS_TEAM_DOMAIN_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.cloudflareaccess\.com$/;
/** The application's AUD tag (64 hex today); looser so a format change is not a config outage. */
const ACCESS_AUD_PATTERN = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * Access authentication is on when any ACCESS_* setting is set; then the team domain, the AUD tag and the
 * caller table are all required, so a half-configured deployment fails closed instead of trusting less.
 */
function accessSettings(str: (name: keyof Env) => string, problems: string[]): AccessSettings | undefined {
  const team = str("ACCESS_TEAM_DOMAIN");
  const audience = str("ACCESS_AUD");
  const callersRaw = str("ACCESS_CALLERS");
  const jwksOverride = str("ACCESS_JWKS_URL");
  if (!team && !audience && !callersRaw && !jwksOverride) return undefined;
  if (!team) problems.push("ACCESS_TEAM_DOMAIN is missing (needed to verify Access JWTs)");
  else if (!ACCESS_TEAM_DOMAIN_PATTERN.test(team))
    problems.push("ACCESS_TEAM_DOMAIN must be a hostname like myteam.cloudflareaccess.com");
  if (!audience) problems.push("ACCESS_AUD is missing (needed to verify Access JWTs)");
  else if (!ACCESS_AUD_PATTERN.test(audience)) problems.push("ACCESS_AUD must be the Access application's AUD tag");
  let callers: AccessSettings["callers"] = [];
  if (!callersRaw) problems.push("ACCESS_CALLERS is missing (needed to map Access service tokens to callers)");
  else {
    const parsed = parseAccessCallers(callersRaw);
    if (parsed.ok) callers = parsed.callers;
    else problems.push(`ACCESS_CALLERS is invalid: ${parsed.problem}`);
  }
  const issuer = `https://${team}`;
  const jwksUrl = jwksOverride
    ? urlSetting("ACCESS_JWKS_URL", jwksOverride, problems)
    : `${issuer}/cdn-cgi/access/certs`;
  return { issuer, audience, jwksUrl, callers };
}

function urlSetting(name: string, value: string, problems: string[]): string {
  try {
    const url = new URL(value);
    if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(value))) {
      problems.push(`${name} must be an https URL`);
    }
    return value.replace(/\/+$/, "");
  } catch {
    problems.push(`${name} is not a URL`);
    return value;
  }
}

/** True when both upstreams are loopback addresses: the local emulator, which no deployed Worker can reach. */
export function isLocalUpstream(apiBaseUrl: string, rtcBaseUrl: string): boolean {
  return isLoopback(apiBaseUrl) && isLoopback(rtcBaseUrl);
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "[::1]";
  } catch {
    return false;
  }
}
