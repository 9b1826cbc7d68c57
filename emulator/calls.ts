/** Every upstream operation the emulator serves; names used by call counters and fault injection. */
export const ROUTE_NAMES = [
  "turn_keys.list",
  "turn_keys.create",
  "turn_keys.get",
  "turn_keys.update",
  "turn_keys.delete",
  "credentials.generate_ice_servers",
  "credentials.generate",
  "credentials.revoke",
  "graphql",
] as const;

export type RouteName = (typeof ROUTE_NAMES)[number];

export type CallCounts = Record<RouteName, number>;

export function isRouteName(value: unknown): value is RouteName {
  return typeof value === "string" && (ROUTE_NAMES as readonly string[]).includes(value);
}

export function emptyCallCounts(): CallCounts {
  return Object.fromEntries(ROUTE_NAMES.map((name) => [name, 0])) as CallCounts;
}

/** The `/__emulator/calls` body: one counter per route plus `total`, zeros included so tests can assert on them. */
export function callsSnapshot(counts: CallCounts): CallCounts & { total: number } {
  const total = ROUTE_NAMES.reduce((sum, name) => sum + counts[name], 0);
  return { ...counts, total };
}
