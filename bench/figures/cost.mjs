// Figure: what a million vends cost at Cloudflare's list prices. N fresh vends run against the local
// stack, and the stack counts every billable operation they cause (src/observability/usage.ts, read from
// GET /v1/dev/usage): Worker requests, KV reads and writes, Durable Object requests, SQLite rows read and
// written (from the cursors' rowsRead/rowsWritten), alarms set. Work that the vends cause later (rows an
// alarm will delete, alarms still to run) is counted from what the objects report as live, and priced too.
import { endUserJwt } from "../clients.mjs";
import { round } from "../stats.mjs";

/**
 * Cloudflare's list prices on Workers Paid (standard usage model), in dollars per million operations,
 * beyond the monthly inclusions. Checked 2026-11; the sources are the public pricing pages.
 */
export const PRICES = {
  worker_requests: { usd_per_million: 0.3, source: "https://developers.cloudflare.com/workers/platform/pricing/" },
  kv_reads: { usd_per_million: 0.5, source: "https://developers.cloudflare.com/kv/platform/pricing/" },
  kv_writes: { usd_per_million: 5, source: "https://developers.cloudflare.com/kv/platform/pricing/" },
  kv_deletes: { usd_per_million: 5, source: "https://developers.cloudflare.com/kv/platform/pricing/" },
  kv_lists: { usd_per_million: 5, source: "https://developers.cloudflare.com/kv/platform/pricing/" },
  do_requests: {
    usd_per_million: 0.15,
    source: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  },
  sql_rows_read: {
    usd_per_million: 0.001,
    source: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  },
  sql_rows_written: {
    usd_per_million: 1,
    source: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  },
  // "Each setAlarm() is billed as a single row written."
  do_alarms_set: { usd_per_million: 1, source: "https://developers.cloudflare.com/durable-objects/platform/pricing/" },
};

/** Duration: $12.50 per million GB-s, an active object billed at 128 MB. Reported beside the figure. */
export const DURATION = {
  usd_per_million_gb_s: 12.5,
  gb_per_object: 0.125,
  source: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
};

/** The counts a list of vends caused, priced per million vends. */
export function price(counts, vends) {
  const lines = {};
  let total = 0;
  for (const [kind, { usd_per_million }] of Object.entries(PRICES)) {
    const perVend = (counts[kind] ?? 0) / vends;
    const usd = perVend * usd_per_million;
    lines[kind] = { per_vend: round(perVend, 4), usd_per_million_vends: round(usd, 4) };
    total += usd;
  }
  return { total, lines };
}

async function usage(stack) {
  const res = await fetch(`${stack.url}/v1/dev/usage`);
  if (!res.ok) throw new Error(`GET /v1/dev/usage: HTTP ${res.status}`);
  return (await res.json()).result;
}

const diff = (after, before) => Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));

/** Runs `fn` over `items`, `concurrency` at a time. */
async function pool(items, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * `users` users each vend `vendsPerUser` fresh sets (`fresh: true`: every vend a new set and an upstream
 * call, the dearer case), `concurrency` requests at a time. Returns dollars per million vends.
 */
export async function costPerMillionVends({ stack, settings, baseline }) {
  const { users, vendsPerUser, concurrency } = settings;
  const run = crypto.randomUUID().slice(0, 8);
  const tokens = await Promise.all(Array.from({ length: users }, (_, i) => endUserJwt(`bench-cost-${run}-${i}`)));
  const requests = tokens.flatMap((token) => Array.from({ length: vendsPerUser }, () => token));
  const before = await usage(stack);
  let failed = 0;
  await pool(requests, concurrency, async (token) => {
    const res = await fetch(`${stack.url}/v1/ice-servers`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ fresh: true }),
    });
    await res.arrayBuffer();
    if (res.status !== 200) failed++;
  });
  if (failed > 0) throw new Error(`${failed} of ${requests.length} vends failed`);
  // Work the vends left running after their answers (waitUntil) settles before the counts are read: the
  // counts must stand still between two reads (each read is itself a Worker request, taken out below).
  let reads = 1;
  let after = await usage(stack);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const again = await usage(stack);
    reads++;
    const settled = Object.keys(again).every((k) => again[k] === after[k] + (k === "worker_requests" ? 1 : 0));
    after = again;
    if (settled) break;
  }
  const counts = diff(after, before);
  counts.worker_requests -= reads;
  const vends = requests.length;
  const { total, lines } = price(counts, vends);
  const durationGbS = ((counts.do_active_ms ?? 0) / 1000) * DURATION.gb_per_object;
  return {
    value: total,
    detail: {
      usd_per_million_vends: round(total, 3),
      ...(baseline ? { before_this_design: baseline } : {}),
      vends,
      lines,
      unpriced: {
        rate_limit_calls_per_vend: round((counts.rate_limit_calls ?? 0) / vends, 3),
        why: "Cloudflare publishes no price for the Rate Limiting binding",
      },
      duration_not_in_figure: {
        do_active_ms_per_vend: round((counts.do_active_ms ?? 0) / vends, 2),
        usd_per_million_vends: round((durationGbS / vends) * DURATION.usd_per_million_gb_s, 4),
        how: `Durable Object wall time while a request was active, at ${DURATION.gb_per_object} GB, $${DURATION.usd_per_million_gb_s} per million GB-s`,
      },
      prices: Object.fromEntries(Object.entries(PRICES).map(([k, p]) => [k, `$${p.usd_per_million}/M, ${p.source}`])),
    },
    load: { users, vends_per_user: vendsPerUser, concurrency, body: '{"fresh":true}' },
  };
}
