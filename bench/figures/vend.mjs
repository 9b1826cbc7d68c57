// Figures 4 and 5: POST /v1/ice-servers against the bare pass-through Worker, both calling the same
// emulator, and the upstream calls one vend costs; and a repeat vend within the reuse window against the
// same pass-through. The bench environment turns the reuse window on, so the vends of figures 4 and 5 ask
// for a fresh set (`fresh: true`, as a refresh before expiry does): each is a new set and an upstream call.
import { endUserJwt } from "../clients.mjs";
import { load } from "../load.mjs";
import { percentile, round } from "../stats.mjs";
import { UPSTREAM_DELAY_MS } from "../settings.mjs";

const GENERATE = "credentials.generate_ice_servers";

/** A TURN key created through turnvend (so it holds the secret) and made the active key. */
export async function prepareVending({ emu, tv }) {
  await emu.reset(0);
  const created = (await tv.createKey("bench-vend")).result;
  if (typeof created.key !== "string")
    throw new Error("the create response carries no secret: the dev caller lacks keys:reveal?");
  await tv.setActiveKey(created.uid);
  return { keyId: created.uid, keySecret: created.key };
}

export async function vendRequest(url, { subject = "bench-user", fresh = true } = {}) {
  return {
    url: `${url}`,
    method: "POST",
    headers: { authorization: `Bearer ${await endUserJwt(subject)}`, "content-type": "application/json" },
    body: fresh ? '{"fresh":true}' : "{}",
  };
}

/**
 * Both sides at `connections`, alternating (pass-through, turnvend) for `rounds` rounds; latencies pool
 * per side. Returns each side's latencies, req/s and requests made.
 */
export async function runSides(sides, { connections, durationSeconds, rounds }) {
  const latencies = { passthrough: [], turnvend: [] };
  const rps = { passthrough: [], turnvend: [] };
  const requests = { passthrough: 0, turnvend: 0 };
  for (let r = 0; r < rounds; r++) {
    for (const [name, side] of Object.entries(sides)) {
      const result = await load({ ...side, connections, duration: durationSeconds });
      latencies[name].push(...result.latencies);
      rps[name].push(Math.round(result.rps));
      requests[name] += result.requests;
    }
  }
  return { latencies, rps, requests };
}

/**
 * p50 of turnvend's vend ÷ p50 of the pass-through's, unloaded (one connection), with the emulator holding
 * every generate call for UPSTREAM_DELAY_MS. The same comparison at `loadedConnections` is reported as
 * detail only.
 */
export async function vendOverhead({ stack, passthrough, emu, settings }) {
  const { connections, loadedConnections, warmupSeconds, durationSeconds, rounds } = settings;
  const sides = {
    passthrough: await vendRequest(passthrough.url),
    turnvend: await vendRequest(`${stack.url}/v1/ice-servers`),
  };
  await emu.delay(GENERATE, UPSTREAM_DELAY_MS);
  try {
    for (const side of Object.values(sides)) await load({ ...side, connections, duration: warmupSeconds });
    const unloaded = await runSides(sides, { connections, durationSeconds, rounds });
    const loaded = await runSides(sides, { connections: loadedConnections, durationSeconds, rounds });
    const p50 = (run, side) => percentile(run.latencies[side], 50);
    const base = p50(unloaded, "passthrough");
    const ours = p50(unloaded, "turnvend");
    return {
      value: ours / base,
      detail: {
        p50_ms_turnvend: round(ours),
        p50_ms_passthrough: round(base),
        overhead_ms_p50: round(ours - base),
        p99_ms_turnvend: round(percentile(unloaded.latencies.turnvend, 99)),
        p99_ms_passthrough: round(percentile(unloaded.latencies.passthrough, 99)),
        rps_turnvend: unloaded.rps.turnvend,
        rps_passthrough: unloaded.rps.passthrough,
        upstream_delay_ms: UPSTREAM_DELAY_MS,
        [`loaded_${loadedConnections}_connections`]: {
          ratio: round(p50(loaded, "turnvend") / p50(loaded, "passthrough")),
          p50_ms_turnvend: round(p50(loaded, "turnvend")),
          p50_ms_passthrough: round(p50(loaded, "passthrough")),
          rps_turnvend: loaded.rps.turnvend,
          rps_passthrough: loaded.rps.passthrough,
        },
      },
      load: {
        connections,
        loaded_connections: loadedConnections,
        warmup_s: warmupSeconds,
        duration_s: durationSeconds,
        rounds,
        order: "pass-through, turnvend per round; unloaded runs, then loaded runs",
      },
    };
  } finally {
    await emu.clearFaults();
  }
}

/** generate-ice-servers calls seen by the emulator ÷ vends answered 2xx. */
export async function vendUpstreamCalls({ stack, emu, settings }) {
  const { connections, amount } = settings;
  const before = await emu.settledCalls();
  const result = await load({ ...(await vendRequest(`${stack.url}/v1/ice-servers`)), connections, amount });
  const after = await emu.settledCalls();
  const generate = after[GENERATE] - before[GENERATE];
  return {
    value: generate / result.requests,
    detail: {
      vends: result.requests,
      generate_calls: generate,
      other_upstream_calls: after.total - before.total - generate,
    },
    load: { connections, amount },
  };
}

/**
 * p50 of a repeat vend (the same user asking again within the reuse window: the set comes from the user's
 * object, no upstream call) ÷ p50 of the pass-through's vend (upstream delayed UPSTREAM_DELAY_MS), one
 * connection, sides alternating in the same run. Fails if any repeat reached upstream.
 */
export async function repeatVend({ stack, passthrough, emu, settings }) {
  const { connections, warmupSeconds, durationSeconds, rounds } = settings;
  const sides = {
    passthrough: await vendRequest(passthrough.url),
    turnvend: await vendRequest(`${stack.url}/v1/ice-servers`, { subject: "bench-repeat", fresh: false }),
  };
  await emu.delay(GENERATE, UPSTREAM_DELAY_MS);
  try {
    // The first vend issues the set; every later one within the window hands it out again.
    await load({ ...sides.turnvend, connections: 1, amount: 1 });
    for (const side of Object.values(sides)) await load({ ...side, connections, duration: warmupSeconds });
    const latencies = { passthrough: [], turnvend: [] };
    let repeatUpstreamCalls = 0;
    let repeats = 0;
    for (let r = 0; r < rounds; r++) {
      for (const [name, side] of Object.entries(sides)) {
        const before = name === "turnvend" ? await emu.settledCalls() : undefined;
        const result = await load({ ...side, connections, duration: durationSeconds });
        latencies[name].push(...result.latencies);
        if (before) {
          const after = await emu.settledCalls();
          repeatUpstreamCalls += after.total - before.total;
          repeats += result.requests;
        }
      }
    }
    if (repeatUpstreamCalls > 0) throw new Error(`${repeatUpstreamCalls} of ${repeats} repeat vends reached upstream`);
    const ours = percentile(latencies.turnvend, 50);
    const base = percentile(latencies.passthrough, 50);
    return {
      value: ours / base,
      detail: {
        p50_ms_repeat: round(ours),
        p50_ms_passthrough: round(base),
        p99_ms_repeat: round(percentile(latencies.turnvend, 99)),
        repeats,
        upstream_calls_during_repeats: repeatUpstreamCalls,
        upstream_delay_ms: UPSTREAM_DELAY_MS,
        reuse_window_s: 300,
      },
      load: {
        connections,
        warmup_s: warmupSeconds,
        duration_s: durationSeconds,
        rounds,
        order: "pass-through, turnvend per round",
      },
    };
  } finally {
    await emu.clearFaults();
  }
}
