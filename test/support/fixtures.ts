// Fixed test identities. Tokens here are test-only values; the Worker sees only their hashes.
import { SCOPES } from "../../src/scopes.ts";
export const ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353";
export const OTHER_ACCOUNT_ID = "ffffffffffffffffffffffffffffffff";
export const ACCOUNT_TOKEN = "test-account-token-7c1f0a9e3b";
export const KEY_ENCRYPTION_KEY = "k1:" + "dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="; // 32 bytes
export const SUBJECT_HASH_KEY = "test-subject-hash-key-5d2e";
export const JWT_SECRET = "test-jwt-secret-2b7a9c-long-enough-for-hs256";
export const TURN_SECRET = "test-turn-secret-4e8d";
export const WEBHOOK_SECRET = "test-webhook-secret-0c4f7e2a9d1b-long-enough";

/** Callers by role: token and scopes. */
export const CALLERS = {
  admin: {
    token: "tv_test_admin_9f3c2a",
    // Every scope there is, so a new scope reaches the admin without a second list to keep.
    scopes: [...SCOPES],
  },
  reader: { token: "tv_test_reader_51d7e0", scopes: ["keys:read"] },
  writer: { token: "tv_test_writer_a04be6", scopes: ["keys:read", "keys:write"] },
  issuer: { token: "tv_test_issuer_3e9f11", scopes: ["credentials:issue"] },
  revoker: { token: "tv_test_revoker_77c2d4", scopes: ["credentials:revoke"] },
  auditor: { token: "tv_test_auditor_0b5a83", scopes: ["audit:read"] },
} as const;

export type Role = keyof typeof CALLERS;

/** Every secret value a response or log line must never contain. */
export const SECRET_VALUES: string[] = [
  ACCOUNT_TOKEN,
  KEY_ENCRYPTION_KEY.slice(3),
  SUBJECT_HASH_KEY,
  JWT_SECRET,
  TURN_SECRET,
  WEBHOOK_SECRET,
  ...Object.values(CALLERS).map((c) => c.token),
];
