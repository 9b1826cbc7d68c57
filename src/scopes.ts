/** Every scope a caller can hold. Unknown scopes in CALLERS are a configuration error. */
export const SCOPES = [
  "keys:read",
  "keys:write",
  "keys:reveal",
  "credentials:issue",
  "credentials:revoke",
  "audit:read",
  "usage:read",
  "guard:write",
] as const;

export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}
