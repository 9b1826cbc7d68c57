// The optional reuse window (CREDENTIAL_REUSE_SECONDS; 0, the default, is off). A user who asks again soon,
// as in a reconnect storm or a page reload, gets the credentials just issued to them instead of a new set:
// no upstream call, and more of the issued credentials get used (Cloudflare asks for over half).
//
// Kept per isolate, in memory only: the entries hold credentials, which never go to KV. A set is handed out
// again only while it is younger than the window and than half its lifetime, so every answer still
// carries at least half the TTL asked for, and only while it comes from the key that vends now. This
// isolate forgets a set as soon as it revokes or withdraws it; another isolate's copy lives at most the
// window, and a revoked credential no longer works at Cloudflare anyway.
import { CREDENTIAL_REUSE_MAX_ENTRIES } from "../constants";
import type { IceServer } from "../contract/responses";

export interface IssuedSet {
  keyId: string;
  subjectHash: string;
  iceServers: IceServer[];
  usernames: string[];
  /** Epoch ms. */
  issuedAt: number;
  expiresAt: number;
}

/**
 * By who asked (an internal caller or end users), subject hash and requested TTL: a caller's "alice" is not
 * an end user's "alice", and asking for another lifetime is asking for another set.
 */
const entries = new Map<string, IssuedSet>();
const entryKey = (input: { issuedBy: string; subjectHash: string; ttl: number }) =>
  JSON.stringify([input.issuedBy, input.subjectHash, input.ttl]);

/** The set to hand out again, if any. */
export function reusableSet(input: {
  issuedBy: string;
  subjectHash: string;
  ttl: number;
  keyId: string;
  windowSeconds: number;
  now: number;
}): IssuedSet | undefined {
  if (input.windowSeconds <= 0) return undefined;
  const key = entryKey(input);
  const set = entries.get(key);
  if (!set) return undefined;
  const age = input.now - set.issuedAt;
  const lifetime = set.expiresAt - set.issuedAt;
  if (set.keyId !== input.keyId || age < 0 || age >= input.windowSeconds * 1000 || age >= lifetime / 2) {
    entries.delete(key);
    return undefined;
  }
  return set;
}

/** Remembers a freshly issued set (only when the window is on). */
export function rememberSet(
  input: { issuedBy: string; subjectHash: string; ttl: number; windowSeconds: number },
  set: IssuedSet,
): void {
  if (input.windowSeconds <= 0) return;
  const key = entryKey(input);
  entries.delete(key);
  // Map keeps insertion order: the first entry is the oldest.
  if (entries.size >= CREDENTIAL_REUSE_MAX_ENTRIES) entries.delete(entries.keys().next().value!);
  entries.set(key, set);
}

/** Forgets every set holding one of these usernames: they were revoked or withdrawn. */
export function forgetUsernames(usernames: readonly string[]): void {
  if (entries.size === 0 || usernames.length === 0) return;
  const gone = new Set(usernames);
  for (const [key, set] of entries) if (set.usernames.some((u) => gone.has(u))) entries.delete(key);
}

/** Forgets every set of one subject. */
export function forgetSubject(subjectHash: string): void {
  for (const [key, set] of entries) if (set.subjectHash === subjectHash) entries.delete(key);
}

/** Forgets everything (tests). */
export function forgetAllSets(): void {
  entries.clear();
}
