// Caller tables in configuration: CALLERS (a secret: `{ id, token_sha256, scopes }`, token hashes and
// never tokens) and ACCESS_CALLERS (`{ common_name, id, scopes }`). Problems name an entry by its
// position, never by its id: /healthz shows them to anyone.
import { CALLER_ID_PATTERN } from "../ids";
import { isScope, type Scope } from "../scopes";

export interface CallerEntry {
  id: string;
  tokenSha256: string;
  scopes: ReadonlySet<Scope>;
}

export interface AccessCallerEntry {
  commonName: string;
  id: string;
  scopes: ReadonlySet<Scope>;
}

export type Parsed<T> = { ok: true; callers: T[] } | { ok: false; problem: string };

/** A client id is `<32 hex>.access`; the pattern is looser so a format change fails on lookup, not on parse. */
const COMMON_NAME_PATTERN = /^[A-Za-z0-9._:@-]{1,256}$/;

/** Parses CALLERS: a JSON array of `{ id, token_sha256, scopes }`. Ids and token hashes do not repeat. */
export function parseCallers(raw: string): Parsed<CallerEntry> {
  return parseCallerTable<CallerEntry>(
    raw,
    { id: (c) => c.id, token_sha256: (c) => c.tokenSha256 },
    (fields, scopes, id) => {
      const hash = fields.token_sha256;
      if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) return "token_sha256 must be 64 lowercase hex";
      return { id, tokenSha256: hash, scopes };
    },
  );
}

/** Parses ACCESS_CALLERS: a JSON array of `{ common_name, id, scopes }`. Common names and ids do not repeat. */
export function parseAccessCallers(raw: string): Parsed<AccessCallerEntry> {
  return parseCallerTable<AccessCallerEntry>(
    raw,
    { common_name: (c) => c.commonName, id: (c) => c.id },
    (fields, scopes, id) => {
      const commonName = fields.common_name;
      if (typeof commonName !== "string" || !COMMON_NAME_PATTERN.test(commonName)) return "invalid common_name";
      return { commonName, id, scopes };
    },
  );
}

/**
 * Each id names one caller across both tables: logs and the audit trail tell callers apart by id alone.
 * Returns one problem per id in both, naming the two entries by table and position.
 */
export function idsInBothTables(
  callers: readonly CallerEntry[],
  accessCallers: readonly AccessCallerEntry[],
): string[] {
  const problems: string[] = [];
  for (const [i, caller] of callers.entries()) {
    const j = accessCallers.findIndex((a) => a.id === caller.id);
    if (j >= 0) problems.push(`CALLERS entry ${i} and ACCESS_CALLERS entry ${j} share the id`);
  }
  return problems;
}

/**
 * Parses a JSON array of caller entries. `entry` checks one entry's own fields and returns the entry or
 * a problem; `unique` names each field that must not repeat, by its name in the JSON. Ids and scopes are
 * checked here for both.
 */
function parseCallerTable<T extends { id: string; scopes: ReadonlySet<Scope> }>(
  raw: string,
  unique: Record<string, (entry: T) => string>,
  entry: (fields: Record<string, unknown>, scopes: ReadonlySet<Scope>, id: string) => T | string,
): Parsed<T> {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, problem: "not JSON" };
  }
  if (!Array.isArray(data)) return { ok: false, problem: "must be a JSON array" };
  const callers: T[] = [];
  // Per field: each value seen so far, and the position of the entry that holds it.
  const seen = Object.entries(unique).map(([field, value]) => ({ field, value, at: new Map<string, number>() }));
  for (const [i, value] of data.entries()) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return { ok: false, problem: `entry ${i} is not an object` };
    }
    const fields = value as Record<string, unknown>;
    if (typeof fields.id !== "string" || !CALLER_ID_PATTERN.test(fields.id)) {
      return { ok: false, problem: `entry ${i} has an invalid id` };
    }
    const scopes = fields.scopes;
    if (!Array.isArray(scopes) || !scopes.every(isScope)) {
      return { ok: false, problem: `entry ${i}: scopes must be a list of known scopes` };
    }
    const parsed = entry(fields, new Set(scopes), fields.id);
    if (typeof parsed === "string") return { ok: false, problem: `entry ${i}: ${parsed}` };
    for (const { field, value, at } of seen) {
      const earlier = at.get(value(parsed));
      if (earlier !== undefined) return { ok: false, problem: `entries ${earlier} and ${i} share the ${field}` };
      at.set(value(parsed), i);
    }
    callers.push(parsed);
  }
  return { ok: true, callers };
}
