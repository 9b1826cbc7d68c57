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

/** Counts since `before`, once the work the vends left running after their answers (waitUntil) has settled. */
async function settledCounts(stack, before) {
  // The counts must stand still between two reads; each read is itself a Worker request, taken out below.
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
  return { counts, after };
}

/**
 * What `vends` vends cost, per million: what they did (priced as counted), plus what they leave for later
 * (each row still stored will be deleted by an alarm, a row written; each alarm still set will run, a
 * request), priced now as part of their cost.
 */
function costOf(counts, vends) {
  const now = price(counts, vends);
  const later = price(
    { sql_rows_written: counts.sql_rows_to_prune ?? 0, do_requests: counts.do_alarms_pending ?? 0 },
    vends,
  );
  const perVend = (k) => round((counts[k] ?? 0) / vends, 4);
  return {
    total: now.total + later.total,
    detail: {
      usd_per_million_vends: round(now.total + later.total, 3),
      during_the_vends: { usd_per_million_vends: round(now.total, 4), lines: now.lines },
      left_for_later: {
        usd_per_million_vends: round(later.total, 4),
        rows_to_prune_per_vend: perVend("sql_rows_to_prune"),
        alarm_runs_per_vend: perVend("do_alarms_pending"),
      },
      unpriced_rate_limit_calls_per_vend: perVend("rate_limit_calls"),
      duration_not_in_figure: {
        do_active_ms_per_vend: perVend("do_active_ms"),
        usd_per_million_vends: round(
          ((counts.do_active_ms ?? 0) / 1000 / vends) * DURATION.gb_per_object * DURATION.usd_per_million_gb_s,
          4,
        ),
      },
    },
  };
}

/**
 * `users` users each vend `vendsPerUser` fresh sets in each of `rounds` rounds (`fresh: true`: every vend a
 * new set and an upstream call, the dearer case), `concurrency` requests at a time. The first round makes
 * each user's object (its table, its alarm), later rounds find it there, as a user returning within two
 * days does. The value is everything all the rounds cost, per million vends; each round is shown too.
 */
export async function costPerMillionVends({ stack, settings, baseline }) {
  const { users, vendsPerUser, rounds, concurrency } = settings;
  const run = crypto.randomUUID().slice(0, 8);
  const tokens = await Promise.all(Array.from({ length: users }, (_, i) => endUserJwt(`bench-cost-${run}-${i}`)));
  const requests = tokens.flatMap((token) => Array.from({ length: vendsPerUser }, () => token));
  let before = await usage(stack);
  const perRound = [];
  const all = {};
  for (let r = 0; r < rounds; r++) {
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
    const { counts, after } = await settledCounts(stack, before);
    perRound.push(costOf(counts, requests.length).detail);
    for (const [k, n] of Object.entries(counts)) all[k] = (all[k] ?? 0) + n;
    // The next round starts from the last read (which counted itself).
    before = after;
  }
  const vends = requests.length * rounds;
  const { total, detail } = costOf(all, vends);
  return {
    value: total,
    detail: {
      ...detail,
      ...(baseline ? { before_this_design: baseline } : {}),
      vends,
      rounds: perRound.map((d, i) => ({
        round: i + 1,
        objects: i === 0 ? "made in this round" : "already there",
        usd_per_million_vends: d.usd_per_million_vends,
        during_the_vends: d.during_the_vends.usd_per_million_vends,
        left_for_later: d.left_for_later.usd_per_million_vends,
      })),
      prices: Object.fromEntries(Object.entries(PRICES).map(([k, p]) => [k, `$${p.usd_per_million}/M, ${p.source}`])),
      duration_how: `Durable Object wall time while a request was active, at ${DURATION.gb_per_object} GB, $${DURATION.usd_per_million_gb_s} per million GB-s`,
    },
    load: { users, vends_per_user_per_round: vendsPerUser, rounds, concurrency, body: '{"fresh":true}' },
  };
}
