// The bill's guard as tests drive it: the usage cron run by hand, GET /v1/usage, PUT /v1/guard, and the
// webhook sink's deliveries.
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { expect, vi } from "vitest";
import worker from "../../src/index";
import type { UsageReport } from "../../src/storage/usage-api";
import { call, envelope } from "./api";
import { emulator } from "./emulator";

export const GB = 1_000_000_000;

/** Runs the 5-minute cron once, as Cloudflare would (with `overrides` in the Worker's env); answers its log lines. */
export async function runUsageCron(
  overrides: Partial<Record<keyof Env, unknown>> = {},
): Promise<Record<string, unknown>[]> {
  const logs = vi.spyOn(console, "log");
  try {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), { ...env, ...overrides } as Env, ctx);
    await waitOnExecutionContext(ctx);
    return logs.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
  } finally {
    logs.mockRestore();
  }
}

export async function usageReport(query = ""): Promise<UsageReport> {
  const res = await call(`/v1/usage${query}`);
  expect(res.status).toBe(200);
  return (await envelope<UsageReport>(res)).result;
}

export function putGuard(body: unknown, as: "admin" | "reader" = "admin") {
  return call("/v1/guard", { method: "PUT", body, as });
}

export interface Delivered {
  id: string;
  type: string;
  time: string;
  data: Record<string, unknown>;
}

/** The alerts the sink has accepted (2xx), parsed, once `count` have arrived (or after ~10 s). */
export async function deliveredAlerts(count = 1): Promise<Delivered[]> {
  let accepted: Delivered[] = [];
  for (let i = 0; i < 200; i++) {
    accepted = (await emulator.webhooks())
      .filter((w) => w.answered === 200)
      .map((w) => JSON.parse(w.body) as Delivered);
    if (accepted.length >= count) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return accepted;
}

/**
 * `n` hours ago (a time inside that hour's bucket), as RFC 3339. 1 ms earlier still: `hoursAgo(0)` must be
 * before the `now` of a cron run that follows, which can read this same millisecond (see emulator.usage).
 */
export function hoursAgo(n: number, now = Date.now()): string {
  return new Date(now - n * 3_600_000 - 1).toISOString();
}
