// `npm run load [-- --quick] [-- --duration 30] [-- --concurrency 16] [-- --verbose]`: a mixed workload against
// the local stack while the emulator fails 5 % of upstream calls. Reports throughput and latency, and exits 1 on
// any violation:
// - a 5xx that is not a deliberate 502/503 in the v4 envelope with a known code (503s with Retry-After),
//   an unexpected status, or a request with no answer;
// - a lost key secret: with faults off, every key upstream (the run makes each one through turnvend) must be
//   one turnvend can vend with, and every key turnvend answered 201 for must exist upstream unless deleted;
// - more than one upstream key per Idempotency-Key, or an upstream name that is not exactly the name sent.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, startStack } from "../scripts/stack.mjs";
import { ADMIN, emulatorControl, endUserJwt, turnvendClient } from "./client.mjs";
import { Recorder, printTable, round } from "./stats.mjs";
import { EXPECTED, MIX, Workload } from "./workload.mjs";

const root = new URL("..", import.meta.url).pathname;
const OUT = join(root, "load", "out");

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    duration: { type: "string" },
    concurrency: { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});
const mode = args.quick ? "quick" : "full";
const durationS = Number(args.duration ?? (args.quick ? 8 : 30));
const concurrency = Number(args.concurrency ?? 16);
if (!(durationS > 0) || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error("usage: npm run load -- [--quick] [--duration seconds] [--concurrency n] [--verbose]");
  process.exit(2);
}

/** Turnvend's per-attempt upstream timeout for this run: below the emulator's delays, so hangs end quickly. */
const UPSTREAM_TIMEOUT_MS = 1_500;
/** Keys made before the load; the first one vends. */
const SEED_KEYS = 4;
/**
 * The 5 % fault mix, applied to every upstream route. Each entry fires with its own probability, so the
 * total is 1 - Π(1 - rate) ≈ 4.9 %. `delayMs` is beyond UPSTREAM_TIMEOUT_MS: the Worker gives up first.
 */
const FAULTS = [
  { route: "*", rate: 0.0125, status: 500 },
  { route: "*", rate: 0.0125, status: 503 },
  { route: "*", rate: 0.005, status: 429, retryAfter: 1 },
  { route: "*", rate: 0.005, hang: true },
  { route: "*", rate: 0.005, delayMs: 2_500 },
  { route: "*", rate: 0.0035, malformed: "json" },
  { route: "*", rate: 0.0025, malformed: "shape" },
  { route: "*", rate: 0.004, loseReply: true },
];
/** After faults are off: the breaker's Retry-After (1 s) and the waitUntil compensation deletes (≤ 3 s) have run. */
const SETTLE_MS = 5_000;

const loadAtStart = round(loadavg()[0], 2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`load: ${msg}\n`);

let stack;
async function stop() {
  const s = stack;
  stack = undefined;
  if (s) await s.stop().catch(() => {});
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await stop();
    process.exit(130);
  });
}

const violations = [];
const recorder = new Recorder();
const checkRecorder = new Recorder();
let results;
try {
  mkdirSync(OUT, { recursive: true });
  const state = join(OUT, "state");
  rmSync(state, { recursive: true, force: true });
  // The `bench` environment lifts the vend rate limits (20/min per subject, 60/min per IP), which this
  // load would otherwise turn into a stream of 429s from one IP.
  log(
    `${mode} mode: ${durationS} s at concurrency ${concurrency}; starting the emulator and turnvend (wrangler dev --env bench)`,
  );
  stack = await startStack({
    port: await freePort(),
    env: "bench",
    persistTo: state,
    workerEnv: { UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS) },
    quiet: !args.verbose,
  });
  const emu = emulatorControl(stack.emulatorUrl);
  await emu.reset();

  const tv = turnvendClient(stack.url, { recorder, violations, expected: EXPECTED });
  const wl = new Workload(tv);

  // Seed, faults off: a few keys, the first one active.
  for (let i = 0; i < SEED_KEYS; i++) await wl.create(undefined, `seed-${i}`);
  if (wl.live.length !== SEED_KEYS)
    throw new Error(`seeding made ${wl.live.length} of ${SEED_KEYS} keys: ${violations.join("; ")}`);
  const activeKeyId = wl.live[0];
  wl.protected.add(activeKeyId);
  const setup = await tv.call("setup", "PUT", "/v1/active-key", { body: { key_id: activeKeyId }, headers: ADMIN });
  if (setup.status !== 200) throw new Error(`PUT /v1/active-key: ${setup.status} ${setup.text}`);
  const probe = await tv.call("setup", "POST", "/v1/ice-servers", {
    body: {},
    headers: { authorization: `Bearer ${await endUserJwt("load-probe")}` },
  });
  if (probe.status !== 200) throw new Error(`vend before the load: ${probe.status} ${probe.text}`);
  const callsBefore = (await emu.calls()).total;

  // The load.
  await emu.setFaults(FAULTS);
  log(`faults on (${FAULTS.length} kinds, ~5 % of upstream calls); driving load`);
  const t0 = performance.now();
  const deadline = t0 + durationS * 1000;
  const workers = Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      try {
        await wl.run(wl.pickOp());
      } catch (err) {
        violations.push(`load harness error: ${err instanceof Error ? err.stack : err}`);
      }
    }
  });
  await Promise.all(workers);
  const elapsedS = (performance.now() - t0) / 1000;
  await emu.clearFaults();
  const upstreamCalls = (await emu.calls()).total - callsBefore;
  log(`load done in ${round(elapsedS, 1)} s; faults off, settling ${SETTLE_MS / 1000} s`);
  await sleep(SETTLE_MS);

  // A real client finishes what it started: each create still unresolved is retried under its key.
  const checkViolations = [];
  const ctv = turnvendClient(stack.url, {
    recorder: checkRecorder,
    violations: checkViolations,
    expected: { ...EXPECTED, "check:active-key": [200], "check:vend": [200] },
  });
  wl.tv = ctv;
  const unresolved = [...wl.creates].filter(([, c]) => !c.resolved);
  for (const [idem, c] of unresolved) await wl.create(idem, c.name, 4);
  const stillUnresolved = [...wl.creates].filter(([, c]) => !c.resolved).map(([idem]) => idem);
  for (const idem of stillUnresolved)
    checkViolations.push(`create under Idempotency-Key ${idem} still has no answer with faults off`);

  // Lost secrets. Upstream is the truth, and every key there was made through turnvend in this run (a key of a
  // lost create that turnvend failed to remove included): each must be one turnvend can vend with.
  const upstream = (await emu.keys()).keys;
  const byUid = new Map(upstream.map((k) => [k.uid, k]));
  const ours = upstream;
  for (const k of ours) {
    const r = await ctv.call("check:active-key", "PUT", "/v1/active-key", { body: { key_id: k.uid }, headers: ADMIN });
    if (r.status !== 200) {
      checkViolations.push(
        `lost secret: upstream key ${k.uid} (${JSON.stringify(k.name)}) was made by turnvend but PUT /v1/active-key answers ${r.status}: ${r.text.slice(0, 160)}`,
      );
      continue;
    }
    const v = await ctv.call("check:vend", "POST", "/v1/ice-servers", {
      body: {},
      headers: { authorization: `Bearer ${await endUserJwt(`check-${k.uid}`)}` },
    });
    if (v.status !== 200)
      checkViolations.push(`lost secret: cannot vend with upstream key ${k.uid}: ${v.status} ${v.text.slice(0, 160)}`);
  }
  const restore = await ctv.call("check:active-key", "PUT", "/v1/active-key", {
    body: { key_id: activeKeyId },
    headers: ADMIN,
  });
  if (restore.status !== 200) checkViolations.push(`could not restore the active key: ${restore.status}`);

  // Every 201 is a key upstream unless it was deleted afterwards.
  for (const [uid, { idem }] of wl.created) {
    const up = byUid.get(uid);
    if (wl.deleteConfirmed.has(uid)) {
      if (up) checkViolations.push(`key ${uid} was deleted (200/404) but still exists upstream`);
      continue;
    }
    if (wl.deleteAttempted.has(uid)) continue; // every delete attempt got a 5xx: either outcome is fine
    if (!up)
      checkViolations.push(
        `lost key: turnvend answered 201 for ${uid} (Idempotency-Key ${idem}) but it is not upstream`,
      );
    else if (!wl.updated.has(uid) && up.name !== wl.creates.get(idem)?.name)
      checkViolations.push(
        `key ${uid}: sent the name ${JSON.stringify(wl.creates.get(idem)?.name)}, Cloudflare holds ${JSON.stringify(up.name)}`,
      );
  }
  // One upstream key per Idempotency-Key: the one answered 201, or none when no 201 came. Every create sends a
  // name of its own, so a key with that exact name (or the uid answered) is the create's.
  for (const [idem, c] of wl.creates) {
    if (c.uid && wl.deleteAttempted.has(c.uid)) continue;
    const keys = upstream.filter((k) => k.name === c.name || (c.uid && k.uid === c.uid));
    const expected = c.uid ? 1 : 0;
    if (keys.length !== expected) {
      checkViolations.push(
        `Idempotency-Key ${idem}: ${keys.length} upstream keys belong to it, expected ${expected} (${keys.map((k) => `${k.uid} ${JSON.stringify(k.name)}`).join(", ")})`,
      );
    }
  }
  // A key neither answered 201 nor named by any create: a lost create's key that turnvend should have removed.
  const sentNames = new Set([...wl.creates.values()].map((c) => c.name));
  const strangers = upstream.filter((k) => !wl.created.has(k.uid) && !sentNames.has(k.name));
  if (strangers.length > 0)
    checkViolations.push(
      `${strangers.length} upstream keys neither answered 201 nor named by any create: ${strangers.map((k) => `${k.uid} ${JSON.stringify(k.name)}`).join(", ")}`,
    );
  violations.push(...checkViolations);

  // The table (and its "all" row) leaves out the setup requests made before the load.
  const loadOnly = new Recorder();
  for (const [op, o] of recorder.ops) if (op !== "setup") loadOnly.ops.set(op, o);
  const table = loadOnly.summary(elapsedS);
  const statusTotals = table.at(-1).statuses;
  const fiveXx = Object.entries(statusTotals)
    .filter(([s]) => Number(s) >= 500)
    .reduce((a, [, n]) => a + n, 0);
  results = {
    generated_at: new Date().toISOString(),
    mode,
    duration_s: round(elapsedS, 1),
    machine: { cores: cpus().length, load_average_1m_at_start: loadAtStart },
    concurrency,
    mix: MIX,
    upstream_timeout_ms: UPSTREAM_TIMEOUT_MS,
    faults: FAULTS,
    upstream_calls: upstreamCalls,
    operations: table,
    x_cache: wl.counters.xcache,
    creates: {
      attempted: wl.creates.size,
      answered_201: wl.created.size - SEED_KEYS,
      idempotent_replays: wl.counters.replayed,
      finished_after_load: unresolved.length,
    },
    deletes: { attempted: wl.deleteAttempted.size, confirmed: wl.deleteConfirmed.size },
    credentials: { vended: wl.counters.vendedCredentials, revoked: wl.counters.revoked },
    end_state: {
      upstream_keys: upstream.length,
      turnvend_keys_checked: ours.length,
    },
    checks: checkRecorder
      .summary(1)
      .filter((r) => r.op !== "all")
      .map(({ op, requests, statuses }) => ({ op, requests, statuses })),
    violations,
  };

  console.log(
    `\nturnvend load (${mode}): ${round(elapsedS, 1)} s, concurrency ${concurrency}, ~5 % upstream faults (500, 503, 429 Retry-After 1, hang, delay 2.5 s, malformed, lost reply); upstream timeout ${UPSTREAM_TIMEOUT_MS} ms; ${cpus().length} cores, load average ${loadAtStart} at start\n`,
  );
  printTable(table);
  const all = table.at(-1);
  console.log(
    `\nthroughput ${all.rps} req/s, p50 ${all.p50_ms} ms, p99 ${all.p99_ms} ms; ${fiveXx} deliberate 5xx of ${all.requests} (${round((100 * fiveXx) / all.requests, 2)} %); ${upstreamCalls} upstream calls`,
  );
  console.log(
    `X-Cache: ${Object.entries(wl.counters.xcache)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
  );
  const cr = results.creates;
  console.log(
    `creates: ${cr.attempted - SEED_KEYS} started, ${cr.answered_201} keys answered 201 (${cr.idempotent_replays} by replay), ${cr.finished_after_load} finished after the load; deletes: ${results.deletes.attempted} sent, ${results.deletes.confirmed} confirmed`,
  );
  console.log(`credentials: ${results.credentials.vended} vended, ${results.credentials.revoked} revoked`);
  console.log(
    `end state (faults off): ${upstream.length} keys upstream, ${ours.length} made by turnvend, each checked with PUT /v1/active-key and a vend`,
  );
} catch (err) {
  violations.push(`load run failed: ${err instanceof Error ? err.stack : err}`);
} finally {
  await stop();
}

if (results) {
  const file = join(OUT, `results-${mode}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  console.log(`written to ${file}`);
}
if (violations.length > 0) {
  console.log(`\nFAIL: ${violations.length} violation(s)`);
  for (const v of violations.slice(0, 50)) console.log(`- ${v}`);
  if (violations.length > 50) console.log(`- ... and ${violations.length - 50} more (see the results file)`);
  process.exitCode = 1;
} else {
  console.log("\nPASS: every 5xx was a deliberate 502/503 in the v4 envelope, and no key secret was lost");
}
