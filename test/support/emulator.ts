// Control of the emulator from inside workerd: reset, fault injection and upstream call counts.
import { env } from "cloudflare:test";

const base = () => (env as unknown as { EMULATOR_URL: string }).EMULATOR_URL;

export type RouteName =
  | "turn_keys.list"
  | "turn_keys.create"
  | "turn_keys.get"
  | "turn_keys.update"
  | "turn_keys.delete"
  | "credentials.generate_ice_servers"
  | "credentials.generate"
  | "credentials.revoke";

export interface Fault {
  route: RouteName | "*";
  count?: number;
  status?: number;
  retryAfter?: number;
  delayMs?: number;
  hang?: boolean;
  /** The emulator does the work, then never answers. */
  loseReply?: boolean;
  malformed?: boolean | "json" | "shape";
}

async function control(path: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(`${base()}/__emulator/${path}`, init);
  if (!res.ok) throw new Error(`emulator control ${path} failed: ${res.status}`);
  return res.status === 204 ? null : res.json();
}

const json = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

export const emulator = {
  reset: (seedKeys?: number) => control("reset", json(seedKeys ? { seedKeys } : {})),
  fault: (fault: Fault) => control("faults", json(fault)),
  /** Drops every queued fault, keeping keys and call counts. */
  clearFaults: () => control("faults", { method: "DELETE" }),
  /** Upstream calls per route since the last reset, plus `total`. */
  calls: async () => (await control("calls")) as Record<RouteName | "total", number>,
  /** Creates a key out of band, as the dashboard would; returns it with its secret. */
  createOutOfBand: async (name = "made-elsewhere") =>
    (await control("keys", json({ name }))) as { uid: string; name: string; key: string },
  state: () => control("keys") as Promise<{ keys: { uid: string; name: string }[]; credentials: unknown[] }>,
};
