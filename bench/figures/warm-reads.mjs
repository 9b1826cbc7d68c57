// Figures 1 and 2: cached key reads against a route with no I/O in the same Worker, and the upstream
// calls those reads cost.
import { ADMIN_HEADERS, KEYS_PATH } from "../clients.mjs";
import { load } from "../load.mjs";
import { mean, round } from "../stats.mjs";

/**
 * Throughput of cached list and get ÷ throughput of GET /healthz, interleaved (trivial, list, get) for
 * `rounds` rounds and averaged. The value is the lower of the two ratios: both reads must keep up.
 */
export async function warmReadThroughput({ stack, emu, tv, keyId, settings }) {
  const { connections, warmupSeconds, durationSeconds, rounds } = settings;
  const targets = {
    trivial: { url: `${stack.url}/healthz` },
    list: { url: stack.url + KEYS_PATH, headers: ADMIN_HEADERS },
    get: { url: `${stack.url}${KEYS_PATH}/${keyId}`, headers: ADMIN_HEADERS },
  };
  await tv.refreshList();
  for (const t of Object.values(targets)) await load({ ...t, connections, duration: warmupSeconds });

  const rps = { trivial: [], list: [], get: [] };
  let upstreamCalls = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [name, t] of Object.entries(targets)) {
      // Each cached run starts inside a fresh freshness window, so it measures hits only.
      if (name !== "trivial") await tv.refreshList();
      const before = (await emu.calls()).total;
      rps[name].push((await load({ ...t, connections, duration: durationSeconds })).rps);
      upstreamCalls += (await emu.calls()).total - before;
    }
  }
  const trivial = mean(rps.trivial);
  const listRatio = mean(rps.list) / trivial;
  const getRatio = mean(rps.get) / trivial;
  return {
    value: Math.min(listRatio, getRatio),
    detail: {
      list_ratio: round(listRatio),
      get_ratio: round(getRatio),
      rps_trivial: rps.trivial.map(Math.round),
      rps_list: rps.list.map(Math.round),
      rps_get: rps.get.map(Math.round),
      upstream_calls_during_runs: upstreamCalls,
    },
    load: {
      connections,
      warmup_s: warmupSeconds,
      duration_s: durationSeconds,
      rounds,
      order: "trivial, list, get per round",
    },
  };
}

/**
 * Upstream calls counted by the emulator across `amount` cached reads (half list, half get), started
 * right after a refresh and stopped at `maxSeconds` so they all fall inside one freshness window.
 */
export async function warmReadUpstreamCalls({ stack, emu, tv, keyId, settings }) {
  const { connections, amount, maxSeconds } = settings;
  await tv.refreshList();
  const refreshedAt = Date.now();
  const before = await emu.settledCalls();
  const result = await load({
    url: stack.url,
    connections,
    amount,
    maxSeconds,
    headers: ADMIN_HEADERS,
    requests: [
      { method: "GET", path: KEYS_PATH },
      { method: "GET", path: `${KEYS_PATH}/${keyId}` },
    ],
  });
  const seconds = (Date.now() - refreshedAt) / 1000;
  const after = await emu.settledCalls();
  return {
    value: after.total - before.total,
    detail: {
      reads: result.requests,
      seconds_since_refresh: round(seconds),
      within_freshness_window: seconds < 60,
      list_calls: after["turn_keys.list"] - before["turn_keys.list"],
      get_calls: after["turn_keys.get"] - before["turn_keys.get"],
    },
    load: { connections, amount, max_s: maxSeconds },
  };
}
