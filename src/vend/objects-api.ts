// What the vend and revoke functions ask of the two Durable Objects (src/objects/), as plain data: the
// calls cross an RPC boundary, so nothing here is a class or holds a function.
import type { IceServer, Provider } from "../contract/responses";
import type { FailureData } from "../errors";
import type { UserBlock } from "../storage/usage-api";
import type { IceUrlPolicy } from "./browser-ice-servers";
import type { SelfHostedProvider } from "./self-hosted";

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
  /** The Cloudflare key to mint with; absent when this vend does not call Cloudflare (see `providers`). */
  key: { keyId: string; secret: string } | undefined;
  policy: VendPolicy;
  /**
   * timeoutMs: the admin timeout, for withdrawals. deadlineMs: the vend's whole allowance for Cloudflare
   * (VEND_UPSTREAM_DEADLINE_MS), which ends at deadlineAt (epoch ms), counted from the request's arrival.
   */
  upstream: { rtcBaseUrl: string; timeoutMs: number; deadlineMs: number; deadlineAt: number };
  providers: VendProviders;
}

/** Where this vend's TURN comes from (src/config/providers.ts), as the Worker decided it. */
export interface VendProviders {
  mode: "cloudflare" | "failover" | "both" | "self-hosted";
  /** False when the breaker is open, in self-hosted mode, or when no Cloudflare key can vend. */
  callCloudflare: boolean;
  /** The self-hosted provider, in failover, both and self-hosted modes. */
  fallback: SelfHostedProvider | undefined;
  /** VEND_FAIL_OPEN=stun: these STUN servers, when no TURN can be had. */
  failOpen: IceServer[] | undefined;
  iceUrls: IceUrlPolicy;
}

/** SQLite rows one object call read and wrote, from the cursors' rowsRead and rowsWritten. */
export interface ObjectUsage {
  rowsRead: number;
  rowsWritten: number;
}

export interface VendedSet {
  iceServers: IceServer[];
  /** Every username of the set: Cloudflare's and the self-hosted one. */
  usernames: string[];
  /** Those of `usernames` minted by the self-hosted provider: nothing upstream can revoke them. */
  selfHosted: string[];
  provider: Provider;
  /** The preferred provider failed (or was skipped by the breaker); a STUN-only answer is always degraded. */
  degraded: boolean;
  /** Epoch ms. */
  issuedAt: number;
  expiresAt: number;
}

/** What became of the call to Cloudflare's credential API: the Worker's breaker counts it. */
export type CloudflareCall = "ok" | "failed" | "none";

export type VendOutcome =
  | { ok: true; set: VendedSet; reused: boolean; cloudflare: CloudflareCall; usage: ObjectUsage }
  | { ok: false; failure: FailureData; cloudflare: CloudflareCall; usage: ObjectUsage };

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
