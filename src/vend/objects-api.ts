// What the vend and revoke functions ask of the two Durable Objects (src/objects/), as plain data: the
// calls cross an RPC boundary, so nothing here is a class or holds a function.
import type { IceServer } from "../contract/responses";
import type { FailureData } from "../errors";
import type { UserBlock } from "../storage/usage-api";

/** The limits a vend is held to, from this request's configuration. */
export interface VendPolicy {
  /** CREDENTIAL_SETS_PER_DAY; 0 = no quota. */
  setsPerDay: number;
  /** CREDENTIAL_REQUESTS_PER_MINUTE; 0 = no bound. */
  requestsPerMinute: number;
  /** CREDENTIAL_REUSE_SECONDS; 0 = reuse off. */
  reuseSeconds: number;
}

/** One vend, as the Worker hands it to the user's object, which makes the upstream call itself. */
export interface VendCall {
  /** The subject's keyed hash: the object's own name, and the credential's customIdentifier upstream. */
  subjectHash: string;
  /** "end_user" or "caller:<id>": sets are handed out again only to the same kind of asker. */
  issuedBy: string;
  ttl: number;
  /** False when the client asked for a fresh set. */
  allowReuse: boolean;
  key: { keyId: string; secret: string };
  policy: VendPolicy;
  upstream: { rtcBaseUrl: string; timeoutMs: number };
}

/** SQLite rows one object call read and wrote, from the cursors' rowsRead and rowsWritten. */
export interface ObjectUsage {
  rowsRead: number;
  rowsWritten: number;
}

export interface VendedSet {
  iceServers: IceServer[];
  usernames: string[];
  /** Epoch ms. */
  issuedAt: number;
  expiresAt: number;
}

export type VendOutcome =
  | { ok: true; set: VendedSet; reused: boolean; usage: ObjectUsage }
  | { ok: false; failure: FailureData; usage: ObjectUsage };

/** An outstanding credential as a user's object holds it. */
export interface HeldCredential {
  username: string;
  key_id: string;
  /** RFC 3339. */
  expires_at: string;
}

/** One credential by username, or every one of the user (at most `limit`). */
export type OutstandingQuery = { username: string } | { limit: number };

/** The API of one user's object (src/objects/user-ledger.ts). */
export interface UserLedgerApi {
  /** Admits (rate bound, reuse, quota), mints upstream and records the set, in one call. */
  vend(call: VendCall): Promise<VendOutcome>;
  /**
   * Outstanding credentials to revoke; their sets are never handed out again from this moment. They stay
   * recorded until `forget` says they were revoked.
   */
  outstanding(query: OutstandingQuery): Promise<{ credentials: HeldCredential[]; more: boolean }>;
  /** Drops `revoked` from the ledger; the sets of `withheld` are never handed out again but stay recorded. */
  forget(revoked: string[], withheld?: string[]): Promise<ObjectUsage>;
  /**
   * The bill's guard blocks the user: every vend is refused (429) until `until`, or until cleared when null.
   * Answers false when the same block was already in place.
   */
  block(block: UserBlock): Promise<boolean>;
  /** Lifts any block; answers whether there was one. */
  clearBlock(): Promise<boolean>;
}

/** The API of one username index shard (src/objects/username-index.ts). */
export interface UsernameIndexApi {
  /**
   * Records which user each username belongs to; resolves once written. Answers the usernames revoked
   * before their entries arrived: the caller withdraws those.
   */
  add(usernames: string[], subjectHash: string, keepUntil: number): Promise<{ withdrawn: string[] }>;
  /** The subject hashes a username was recorded for (one, unless two usernames share a 64-bit hash). */
  find(username: string): Promise<string[]>;
  /** Remembers a revocation of a username not recorded yet, so its entry is withdrawn when it arrives. */
  tombstone(username: string): Promise<void>;
}
