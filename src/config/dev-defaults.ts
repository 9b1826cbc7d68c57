// The published local-development secrets (scripts/dev-defaults.mjs, README.md) and the check that keeps
// them, and the near misses an operator makes by copy and paste, out of any deployment whose upstream is
// not the loopback emulator. Problems name the setting and the entry's position, never a value.
import { base64ToBytes } from "../crypto/base64";
import type { CallerEntry } from "./callers";
import type { KeyRingEntry } from "./key-ring";

/** Published secret settings, by name. */
const DEV_SECRETS = {
  CLOUDFLARE_API_TOKEN: "dev-account-token",
  JWT_HS256_SECRET: "dev-jwt-secret",
  SUBJECT_HASH_KEY: "dev-subject-hash-key",
  ALERT_WEBHOOK_SECRET: "dev-alert-webhook-secret",
} as const;
/** The published key-encryption key's bytes: "turnvend-local-development-key!!". */
const DEV_KEY_ENCRYPTION_KEY = base64ToBytes("dHVybnZlbmQtbG9jYWwtZGV2ZWxvcG1lbnQta2V5ISE=");
/** SHA-256 of the dev caller token `dev-admin-token`. */
const DEV_CALLER_TOKEN_SHA256 = "1734d503f6aa6a047c36d113cbad769f719c93784b469b771c4c3e7c63adbefd";

export interface DevDefaultsInput {
  /** A setting's value as configured (trimmed); "" when unset. */
  setting: (name: keyof typeof DEV_SECRETS) => string;
  /** The parsed KEY_ENCRYPTION_KEY ring, when it parsed. */
  keyRing: readonly KeyRingEntry[];
  callers: readonly CallerEntry[];
}

/** One problem per setting that holds a published dev secret, or a variant of one. */
export function devDefaultProblems({ setting, keyRing, callers }: DevDefaultsInput): string[] {
  const problems: string[] = [];
  for (const [name, devValue] of Object.entries(DEV_SECRETS) as [keyof typeof DEV_SECRETS, string][]) {
    if (containsPublished(setting(name), devValue)) problems.push(`${name} holds the local development default`);
  }
  // Every entry counts: the first seals new secrets, and any entry opens records an attacker could plant.
  for (const [i, entry] of keyRing.entries()) {
    if (sameBytes(entry.bytes, DEV_KEY_ENCRYPTION_KEY))
      problems.push(`KEY_ENCRYPTION_KEY holds the local development key (entry ${i})`);
  }
  for (const [i, caller] of callers.entries()) {
    // The parser takes lowercase hex only, so this one spelling is the dev token's only hash.
    if (caller.tokenSha256 === DEV_CALLER_TOKEN_SHA256)
      problems.push(`CALLERS holds the local development caller (entry ${i})`);
  }
  return problems;
}

/**
 * True when `value` is the published value under whatever copy and paste adds or changes: quotes, commas,
 * whitespace, a `NAME=` prefix, case, `_` for `-`. Letters and digits are compared, and containment
 * suffices: a random secret never contains a published one, and a secret built around it is no secret.
 */
function containsPublished(value: string, published: string): boolean {
  const letters = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
  return value !== "" && letters(value).includes(letters(published));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}
