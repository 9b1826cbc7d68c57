// The CALLERS secret: a JSON array of { id, token_sha256, scopes }. It holds token hashes, never tokens.
import { isScope, type Scope } from "./scopes";

export interface CallerEntry {
  id: string;
  tokenSha256: string;
  scopes: ReadonlySet<Scope>;
}

export function parseCallers(raw: string): { ok: true; callers: CallerEntry[] } | { ok: false; problem: string } {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, problem: "not JSON" };
  }
  if (!Array.isArray(data)) return { ok: false, problem: "must be a JSON array" };
  const callers: CallerEntry[] = [];
  const ids = new Set<string>();
  for (const [i, entry] of data.entries()) {
    if (typeof entry !== "object" || entry === null) return { ok: false, problem: `entry ${i} is not an object` };
    const { id, token_sha256: hash, scopes } = entry as Record<string, unknown>;
    if (typeof id !== "string" || !/^[A-Za-z0-9._:-]{1,64}$/.test(id)) return { ok: false, problem: `entry ${i} has an invalid id` };
    if (ids.has(id)) return { ok: false, problem: `caller id ${id} appears twice` };
    ids.add(id);
    if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) return { ok: false, problem: `caller ${id}: token_sha256 must be 64 lowercase hex` };
    if (!Array.isArray(scopes) || !scopes.every(isScope)) return { ok: false, problem: `caller ${id}: scopes must be a list of known scopes` };
    callers.push({ id, tokenSha256: hash, scopes: new Set(scopes) });
  }
  return { ok: true, callers };
}
