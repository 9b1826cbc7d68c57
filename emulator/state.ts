import { emptyCallCounts } from "./calls.ts";
import type { CallCounts } from "./calls.ts";
import { randomHex } from "./crypto.ts";
import { createFaultQueue } from "./faults.ts";
import type { FaultQueue } from "./faults.ts";

/** Cloudflare's documented cap on TURN keys per account. */
export const MAX_TURN_KEYS_PER_ACCOUNT = 1_000;

/** A TURN key as the emulator stores it; `secret` is what Cloudflare returns as `key`, only on create. */
export type TurnKeyRecord = { uid: string; name: string; created: string; modified: string; secret: string };

/** A TURN key as every route except create shows it. */
export type PublicTurnKey = { uid: string; name: string; created: string; modified: string };

/** One credential minted by the rtc routes. Cloudflare keeps no such list; the emulator does so tests can look. */
export type IssuedCredential = {
  username: string;
  keyId: string;
  customIdentifier: string | null;
  ttl: number;
  issuedAt: string;
  expiresAt: string;
  revoked: boolean;
};

/** One row of TURN usage, as `POST /__emulator/usage` adds it: what the relay measured for one credential. */
export type UsageRow = {
  keyId: string;
  customIdentifier: string | null;
  username: string | null;
  egressBytes: number;
  ingressBytes: number;
  /** Epoch ms of the traffic. */
  at: number;
};

/** A request the webhook sink received (`/__emulator/webhook`), for tests to verify signatures on. */
export type ReceivedWebhook = { at: string; headers: Record<string, string>; body: string; answered: number };

export type EmulatorState = {
  keys: Map<string, TurnKeyRecord>;
  credentials: Map<string, IssuedCredential>;
  calls: CallCounts;
  faults: FaultQueue;
  usage: UsageRow[];
  webhooks: { received: ReceivedWebhook[]; failNext: number };
};

export function createState(): EmulatorState {
  return {
    keys: new Map(),
    credentials: new Map(),
    calls: emptyCallCounts(),
    faults: createFaultQueue(),
    usage: [],
    webhooks: { received: [], failNext: 0 },
  };
}

/** Forgets everything in place, so code holding `emulator.state` keeps seeing the live state. */
export function resetState(state: EmulatorState): void {
  state.keys.clear();
  state.credentials.clear();
  state.faults.clear();
  state.calls = emptyCallCounts();
  state.usage.length = 0;
  state.webhooks.received.length = 0;
  state.webhooks.failNext = 0;
}

/** Adds a key, or returns undefined when the account already holds the maximum. */
export function createKey(state: EmulatorState, name: string, now: Date = new Date()): TurnKeyRecord | undefined {
  if (state.keys.size >= MAX_TURN_KEYS_PER_ACCOUNT) return undefined;
  const stamp = now.toISOString();
  // 32 bytes of hex = the 64-character secret Cloudflare issues.
  const record: TurnKeyRecord = { uid: randomHex(16), name, created: stamp, modified: stamp, secret: randomHex(32) };
  state.keys.set(record.uid, record);
  return record;
}

/** Field by field, never a spread, so the secret cannot slip into a response. */
export function toPublicKey(record: TurnKeyRecord): PublicTurnKey {
  return { uid: record.uid, name: record.name, created: record.created, modified: record.modified };
}

/** The create-response shape: the only place the secret leaves, named `key` as Cloudflare does. */
export function toCreatedKey(record: TurnKeyRecord): PublicTurnKey & { key: string } {
  return { ...toPublicKey(record), key: record.secret };
}
