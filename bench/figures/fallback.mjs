// The failover figures (README, "When Cloudflare's TURN API fails"), each against a turnvend of its own mode
// (`wrangler dev --env bench` with TURN_PROVIDER_MODE and the fallback set on top), with the local fallback
// settings below: turnvend only signs for the fallback, no TURN server is needed to mint.
//
// - failover_vend_ratio: vend p50 while the emulator's credential API hangs, failover mode ÷ the deadline.
//   The vends measured are the ones that wait for Cloudflare: a burst of concurrent vends at the start of the
//   outage, all admitted before the breaker has seen a failure. Vends after the breaker opens skip Cloudflare
//   and take milliseconds; their p50 is reported as detail, not judged.
// - self_hosted_vend_ratio: self-hosted mode vend p50 ÷ the bare pass-through's p50 (its upstream delayed
//   UPSTREAM_DELAY_MS), one connection, sides alternating; fails if the self-hosted stack called upstream.
import { DEV_FALLBACK_TURN_SECRET } from "../../scripts/dev-defaults.mjs";
import { freePort, startStack } from "../../scripts/stack.mjs";
import { emulator, endUserJwt, turnvend } from "../clients.mjs";
import { load } from "../load.mjs";
import { UPSTREAM_DELAY_MS } from "../settings.mjs";
import { percentile, round } from "../stats.mjs";
import { prepareVending, runSides, vendRequest } from "./vend.mjs";

const GENERATE = "credentials.generate_ice_servers";
/** VEND_UPSTREAM_DEADLINE_MS in wrangler.toml's bench environment. */
export const BENCH_DEADLINE_MS = 1_500;

/** The self-hosted provider's settings: URLs are only signed for here, never contacted. */
export const FALLBACK_SETTINGS = {
  FALLBACK_TURN_URLS: "turn:127.0.0.1:3478?transport=udp,turns:127.0.0.1:5349?transport=tcp",
  FALLBACK_TURN_SECRET: DEV_FALLBACK_TURN_SECRET,
};

/** A turnvend in the bench environment with `mode`; stopped by the returned stop. */
export async function startModeStack({ mode, persistTo, quiet }) {
  return startStack({
    port: await freePort(),
    env: "bench",
    persistTo,
    quiet,
    workerEnv: { TURN_PROVIDER_MODE: mode, ...FALLBACK_SETTINGS },
  });
}

/** One vend with a ready JWT, timed from sending to the whole answer. */
async function vendOnce(url, jwt) {
  const started = performance.now();
  const res = await fetch(`${url}/v1/ice-servers`, {
    method: "POST",
    headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
    body: '{"fresh":true}',
  });
  const body = await res.json();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`vend answered ${res.status}: ${JSON.stringify(body).slice(0, 200)}`);
  return { ms, body };
}

export async function failoverVend({ stack, settings }) {
  const { burst, durationSeconds } = settings;
  const emu = emulator(stack.emulatorUrl);
  await prepareVending({ emu, tv: turnvend(stack.url) });
  // Warm the isolate and the path with Cloudflare healthy, then make every credential call hang.
  await vendOnce(stack.url, await endUserJwt("bench-failover-warm"));
  // Signed before the clock starts: one user each, as at the start of an outage.
  const tokens = await Promise.all(Array.from({ length: burst }, (_, i) => endUserJwt(`bench-failover-${i}`)));
  await emu.fault({ route: GENERATE, hang: true, count: -1 });
  try {
    const waited = await Promise.all(tokens.map((jwt) => vendOnce(stack.url, jwt)));
    for (const { body } of waited) {
      if (body.provider !== "self-hosted" || body.degraded !== true)
        throw new Error(`a vend during the hang was not a degraded self-hosted answer: ${body.provider}`);
    }
    const calls = (await emu.calls())[GENERATE];
    const latencies = waited.map((w) => w.ms);
    const p50 = percentile(latencies, 50);
    // The breaker is open now: the rest of the outage skips Cloudflare.
    const jwt = await endUserJwt("bench-failover-open");
    const open = await load({
      url: `${stack.url}/v1/ice-servers`,
      method: "POST",
      headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
      body: '{"fresh":true}',
      connections: 1,
      duration: durationSeconds,
    });
    const callsAfter = (await emu.calls())[GENERATE];
    return {
      value: p50 / BENCH_DEADLINE_MS,
      detail: {
        deadline_ms: BENCH_DEADLINE_MS,
        p50_ms_waiting_vends: round(p50),
        max_ms_waiting_vends: round(Math.max(...latencies)),
        waiting_vends: latencies.length,
        credential_calls_during_burst: calls - 1,
        p50_ms_breaker_open: round(open.p50),
        vends_breaker_open: open.requests,
        credential_calls_breaker_open: callsAfter - calls,
      },
      load: { burst, after_burst: `1 connection for ${durationSeconds} s with the breaker open` },
    };
  } finally {
    await emu.clearFaults();
  }
}

export async function selfHostedVend({ stack, passthrough, mainEmu, settings }) {
  const { warmupSeconds, durationSeconds, rounds } = settings;
  const emu = emulator(stack.emulatorUrl);
  const sides = {
    passthrough: await vendRequest(passthrough.url),
    turnvend: await vendRequest(`${stack.url}/v1/ice-servers`, { subject: "bench-self-hosted" }),
  };
  await mainEmu.delay(GENERATE, UPSTREAM_DELAY_MS);
  try {
    const before = await emu.calls();
    for (const side of Object.values(sides)) await load({ ...side, connections: 1, duration: warmupSeconds });
    const { latencies, requests } = await runSides(sides, { connections: 1, durationSeconds, rounds });
    const vends = requests.turnvend;
    const after = await emu.calls();
    if (after.total !== before.total)
      throw new Error(`self-hosted mode made ${after.total - before.total} upstream calls`);
    const ours = percentile(latencies.turnvend, 50);
    const base = percentile(latencies.passthrough, 50);
    return {
      value: ours / base,
      detail: {
        p50_ms_self_hosted: round(ours),
        p50_ms_passthrough: round(base),
        p99_ms_self_hosted: round(percentile(latencies.turnvend, 99)),
        vends,
        upstream_calls: 0,
        upstream_delay_ms: UPSTREAM_DELAY_MS,
      },
      load: { connections: 1, warmup_s: warmupSeconds, duration_s: durationSeconds, rounds },
    };
  } finally {
    await mainEmu.clearFaults();
  }
}
