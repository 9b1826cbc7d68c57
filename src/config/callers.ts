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

/** Parses CALLERS: a JSON array of `{ id, token_sha256, scopes }`. */
export function parseCallers(raw: string): Parsed<CallerEntry> {
  return parseCallerTable<CallerEntry>(
    raw,
    (c) => c.id,
    (fields, scopes, id) => {
      const hash = fields.token_sha256;
      if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) return "token_sha256 must be 64 lowercase hex";
      return { id, tokenSha256: hash, scopes };
    },
  );
}

/** Parses ACCESS_CALLERS: a JSON array of `{ common_name, id, scopes }`. */
export function parseAccessCallers(raw: string): Parsed<AccessCallerEntry> {
  return parseCallerTable<AccessCallerEntry>(
    raw,
    (c) => c.commonName,
    (fields, scopes, id) => {
      const commonName = fields.common_name;
      if (typeof commonName !== "string" || !COMMON_NAME_PATTERN.test(commonName)) return "invalid common_name";
      return { commonName, id, scopes };
    },
  );
}

/**
 * Parses a JSON array of caller entries. `entry` checks one entry's own fields and returns the entry or
 * a problem; `unique` names the field that must not repeat. Ids and scopes are checked here for both.
 */
function parseCallerTable<T extends { id: string; scopes: ReadonlySet<Scope> }>(
  raw: string,
  unique: (entry: T) => string,
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
  const seen = new Set<string>();
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
    if (seen.has(unique(parsed))) return { ok: false, problem: `entry ${i} repeats an earlier entry` };
    seen.add(unique(parsed));
    callers.push(parsed);
  }
  return { ok: true, callers };
}
