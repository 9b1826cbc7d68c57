// Control of the emulator from inside workerd: reset, fault injection and upstream call counts.
import { env } from "cloudflare:test";

const base = () => (env as unknown as { EMULATOR_URL: string }).EMULATOR_URL;

// The emulator's own types, so a fault the emulator would refuse does not typecheck here either.
export type { RouteName } from "../../emulator/calls.ts";
export type { FaultRequest as Fault } from "../../emulator/faults.ts";
import type { RouteName } from "../../emulator/calls.ts";
import type { FaultRequest as Fault } from "../../emulator/faults.ts";
import type { ReceivedWebhook } from "../../emulator/state.ts";

export interface UsageRowInput {
  keyId?: string;
  customIdentifier?: string | null;
  username?: string;
  egressBytes: number;
  ingressBytes?: number;
  at?: string;
}

async function control(path: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(`${base()}/__emulator/${path}`, init);
  if (!res.ok) throw new Error(`emulator control ${path} failed: ${res.status}`);
  return res.status === 204 ? null : res.json();
}

/**
 * Stamps a row without `at` 1 ms before this isolate's clock. Left to the emulator, it gets the emulator's clock
 * at receipt, and workerd's clock only moves at I/O: the cron run that follows can read that very millisecond as
 * its `now`, and the guard asks for [start, now) as Cloudflare's analytics are asked, so the row would be left
 * out of the run now and then. The isolate's clock never goes back, so 1 ms before it is before any later run.
 */
function justBefore(row: UsageRowInput): UsageRowInput {
  if (typeof row !== "object" || row === null || row.at !== undefined) return row;
  return { ...row, at: new Date(Date.now() - 1).toISOString() };
}

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

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
  /** Adds usage rows for the GraphQL route (POST /__emulator/usage); a row without `at` happened just now. */
  usage: (rows: UsageRowInput | UsageRowInput[]) =>
    control("usage", json(Array.isArray(rows) ? rows.map(justBefore) : justBefore(rows))),
  /** What the webhook sink received, oldest first. */
  webhooks: async () => ((await control("webhook")) as { received: ReceivedWebhook[] }).received,
  /** The sink answers 500 to the next `failNext` deliveries. */
  failWebhooks: (failNext: number) =>
    control("webhook", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ failNext }),
    }),
  /** The URL list the credential routes answer, until reset: a preset of Cloudflare's docs, or any list. */
  iceUrls: (body: { preset: "default" | "legacy" | "current" } | { urls: string[] }) =>
    control("ice-urls", { ...json(body), method: "PUT" }) as Promise<{ urls: string[] }>,
  state: () => control("keys") as Promise<{ keys: { uid: string; name: string }[]; credentials: unknown[] }>,
};
