// Figure 3: what a cached list costs with 1,000 keys against 10, as unloaded p50 latency.
import { ADMIN_HEADERS, KEYS_PATH } from "../clients.mjs";
import { load } from "../load.mjs";
import { percentile, round } from "../stats.mjs";
import { LARGE_KEY_COUNT, SMALL_KEY_COUNT } from "../settings.mjs";

/**
 * For each size: the emulator is reseeded, one no-cache list refreshes turnvend's cache, then cached lists
 * are timed. Sizes alternate for `rounds` rounds; latencies are pooled per size.
 */
export async function listCostAtScale({ stack, emu, tv, settings }) {
  const { connections, warmupSeconds, durationSeconds, rounds } = settings;
  const target = { url: stack.url + KEYS_PATH, headers: ADMIN_HEADERS, connections };
  const latencies = { [SMALL_KEY_COUNT]: [], [LARGE_KEY_COUNT]: [] };
  const bodyBytes = {};
  let upstreamCalls = 0;
  for (let r = 0; r < rounds; r++) {
    for (const count of [SMALL_KEY_COUNT, LARGE_KEY_COUNT]) {
      await emu.reset(count);
      const refreshed = await tv.refreshList();
      if (refreshed.result.length !== count)
        throw new Error(`list after reseeding ${count} keys returned ${refreshed.result.length}`);
      const cached = await fetch(target.url, { headers: ADMIN_HEADERS });
      bodyBytes[count] = (await cached.arrayBuffer()).byteLength;
      await load({ ...target, duration: warmupSeconds });
      const before = (await emu.calls()).total;
      latencies[count].push(...(await load({ ...target, duration: durationSeconds })).latencies);
      upstreamCalls += (await emu.calls()).total - before;
    }
  }
  const small = percentile(latencies[SMALL_KEY_COUNT], 50);
  const large = percentile(latencies[LARGE_KEY_COUNT], 50);
  return {
    value: large / small,
    detail: {
      [`p50_ms_${SMALL_KEY_COUNT}_keys`]: round(small),
      [`p50_ms_${LARGE_KEY_COUNT}_keys`]: round(large),
      [`p99_ms_${SMALL_KEY_COUNT}_keys`]: round(percentile(latencies[SMALL_KEY_COUNT], 99)),
      [`p99_ms_${LARGE_KEY_COUNT}_keys`]: round(percentile(latencies[LARGE_KEY_COUNT], 99)),
      [`body_bytes_${SMALL_KEY_COUNT}_keys`]: bodyBytes[SMALL_KEY_COUNT],
      [`body_bytes_${LARGE_KEY_COUNT}_keys`]: bodyBytes[LARGE_KEY_COUNT],
      samples: latencies[SMALL_KEY_COUNT].length + latencies[LARGE_KEY_COUNT].length,
      upstream_calls_during_runs: upstreamCalls,
    },
    load: {
      connections,
      warmup_s: warmupSeconds,
      duration_s: durationSeconds,
      rounds,
      order: `${SMALL_KEY_COUNT} keys, ${LARGE_KEY_COUNT} keys per round`,
    },
  };
}
