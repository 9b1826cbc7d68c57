// `npm run bench [-- --quick] [-- --verbose] [-- --only=name,name]`: turnvend's performance figures, each a
// ratio of two things measured side by side in the same run. Prints a table and writes bench/results.json (full
// mode) or bench/out/results-quick.json (quick mode, and any --only run). Full mode exits 1 when a target is
// missed; quick mode (CI) only when the harness itself fails. `--only`
// measures some figures while working on them; the README reports full runs only.
import { mkdirSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { freePort, startStack } from "../scripts/stack.mjs";
import { emulator, turnvend } from "./clients.mjs";
import { build, bundleSizeRatio, coldStartRatio } from "./figures/build.mjs";
import { listCostAtScale } from "./figures/list-scale.mjs";
import { costPerMillionVends } from "./figures/cost.mjs";
import { failoverVend, selfHostedVend, startModeStack } from "./figures/fallback.mjs";
import { exactIdempotency } from "./figures/idempotency.mjs";
import { prepareVending, repeatVend, vendOverhead, vendUpstreamCalls } from "./figures/vend.mjs";
import { warmReadThroughput, warmReadUpstreamCalls } from "./figures/warm-reads.mjs";
import { startPassthrough } from "./passthrough.mjs";
import { environment, printTable, row, writeResults } from "./report.mjs";
import { COST_BEFORE_OBJECTS, MODES, SMALL_KEY_COUNT, TARGETS } from "./settings.mjs";
import { round } from "./stats.mjs";

const root = new URL("..", import.meta.url).pathname;
const OUT = join(root, "bench", "out");
const mode = process.argv.includes("--quick") ? "quick" : "full";
const quiet = !process.argv.includes("--verbose");
const settings = MODES[mode];
const onlyArg = process.argv.find((a) => a.startsWith("--only="));
const only = onlyArg ? new Set(onlyArg.slice("--only=".length).split(",")) : undefined;
const wanted = (...names) => !only || names.some((n) => only.has(n));
for (const name of only ?? []) {
  if (!Object.hasOwn(TARGETS, name)) {
    console.error(`bench: --only names an unknown figure: ${name} (figures: ${Object.keys(TARGETS).join(", ")})`);
    process.exit(2);
  }
}
const started = Date.now();
const loadAtStart = loadavg()[0];

const outcomes = {};
/** Measures one figure; a failure is recorded as that figure's error and the run goes on. */
async function measure(name, fn) {
  if (!wanted(name)) return;
  const t0 = Date.now();
  process.stderr.write(`bench: ${name}...`);
  try {
    outcomes[name] = await fn();
  } catch (err) {
    outcomes[name] = { error: err instanceof Error ? err.message : String(err) };
  }
  process.stderr.write(
    ` ${outcomes[name].error ? "error" : round(outcomes[name].value)} (${round((Date.now() - t0) / 1000, 1)} s)\n`,
  );
}
const skip = (reason) => ({ error: reason });
/** Thrown when `--only` needs nothing from the local stack, so it is never started. */
class StopEarly extends Error {}

const stoppers = [];
async function stopAll() {
  while (stoppers.length)
    await stoppers
      .pop()()
      .catch(() => {});
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await stopAll();
    process.exit(130);
  });
}

mkdirSync(OUT, { recursive: true });
try {
  // Static figures first, while nothing else runs: build both Workers, then time their startup.
  if (wanted("bundle_size_ratio", "cold_start_ratio")) {
    process.stderr.write(`bench: ${mode} mode; building turnvend and the minimal Hono Worker\n`);
    const [tvBuild, minimalBuild] = await Promise.all([
      build("turnvend", join(OUT, "build")),
      build("minimal_hono", join(OUT, "build")),
    ]);
    process.stderr.write(`bench: built in ${round((Date.now() - started) / 1000, 1)} s\n`);
    await measure("bundle_size_ratio", async () => bundleSizeRatio(tvBuild, minimalBuild));
    // Startup is timed once the builds' processes have exited and the machine has settled.
    await new Promise((r) => setTimeout(r, mode === "full" ? 5_000 : 0));
    await measure("cold_start_ratio", () => coldStartRatio(tvBuild, minimalBuild, settings.coldStartRuns));
  }
  if (
    !wanted(
      "warm_read_throughput_ratio",
      "warm_read_upstream_calls",
      "list_cost_at_scale",
      "vend_overhead",
      "vend_upstream_calls",
      "repeat_vend_ratio",
      "cost_per_million_vends",
      "exact_idempotency",
      "failover_vend_ratio",
      "self_hosted_vend_ratio",
    )
  )
    throw new StopEarly();

  // The stack in the `bench` environment: vend rate limits far above the load, fresh local KV.
  const state = join(OUT, "state");
  rmSync(state, { recursive: true, force: true });
  process.stderr.write("bench: starting the emulator and turnvend (wrangler dev --env bench)\n");
  const stack = await startStack({ port: await freePort(), env: "bench", persistTo: join(state, "turnvend"), quiet });
  stoppers.push(stack.stop);
  const emu = emulator(stack.emulatorUrl);
  const tv = turnvend(stack.url);

  await emu.reset(SMALL_KEY_COUNT);
  const keyId = (await tv.refreshList()).result[0].uid;
  const reads = { stack, emu, tv, keyId };
  await measure("warm_read_throughput_ratio", () => warmReadThroughput({ ...reads, settings: settings.warm }));
  await measure("warm_read_upstream_calls", () => warmReadUpstreamCalls({ ...reads, settings: settings.warmCalls }));
  await measure("list_cost_at_scale", () => listCostAtScale({ stack, emu, tv, settings: settings.listScale }));

  let passthrough;
  let vendingReady = false;
  if (
    wanted(
      "vend_overhead",
      "vend_upstream_calls",
      "repeat_vend_ratio",
      "cost_per_million_vends",
      "self_hosted_vend_ratio",
    )
  ) {
    try {
      const key = await prepareVending({ emu, tv });
      vendingReady = true;
      if (wanted("vend_overhead", "repeat_vend_ratio", "self_hosted_vend_ratio")) {
        process.stderr.write("bench: starting the pass-through Worker (wrangler dev)\n");
        passthrough = await startPassthrough({
          emulatorUrl: stack.emulatorUrl,
          ...key,
          persistTo: join(state, "passthrough"),
          quiet,
        });
        stoppers.push(passthrough.stop);
      }
    } catch (err) {
      outcomes.vend_overhead = skip(`vend setup failed: ${err instanceof Error ? err.message : err}`);
    }
  }
  if (passthrough) {
    await measure("vend_overhead", () => vendOverhead({ stack, passthrough, emu, settings: settings.vend }));
    await measure("repeat_vend_ratio", () => repeatVend({ stack, passthrough, emu, settings: settings.repeat }));
  }
  await measure("vend_upstream_calls", () => vendUpstreamCalls({ stack, emu, settings: settings.vendCalls }));
  if (vendingReady)
    await measure("cost_per_million_vends", () =>
      costPerMillionVends({ stack, settings: settings.cost, baseline: COST_BEFORE_OBJECTS }),
    );
  await measure("exact_idempotency", () => exactIdempotency({ stack, emu, settings: settings.idempotency }));

  // The failover figures, each on a turnvend of its own mode, started only while it is measured.
  const inMode = async (name, mode, fn) => {
    if (!wanted(name)) return;
    let other;
    try {
      process.stderr.write(`bench: starting turnvend with TURN_PROVIDER_MODE=${mode}\n`);
      other = await startModeStack({ mode, persistTo: join(state, `turnvend-${mode}`), quiet });
    } catch (err) {
      outcomes[name] = skip(`the ${mode} stack did not start: ${err instanceof Error ? err.message : err}`);
      return;
    }
    try {
      await measure(name, () => fn(other));
    } finally {
      await other.stop();
    }
  };
  await inMode("failover_vend_ratio", "failover", (other) =>
    failoverVend({ stack: other, settings: settings.failover }),
  );
  if (passthrough)
    await inMode("self_hosted_vend_ratio", "self-hosted", (other) =>
      selfHostedVend({ stack: other, passthrough, mainEmu: emu, settings: settings.selfHosted }),
    );
} catch (err) {
  if (!(err instanceof StopEarly)) process.stderr.write(`\nbench: ${err instanceof Error ? err.stack : err}\n`);
} finally {
  await stopAll();
}

const rows = Object.entries(TARGETS)
  .filter(([name]) => wanted(name))
  .map(([name, target]) => row(name, target, outcomes[name] ?? skip("not measured (an earlier step failed)")));
const results = {
  generated_at: new Date().toISOString(),
  mode,
  ...environment({ loadAtStart }),
  duration_s: round((Date.now() - started) / 1000, 1),
  figures: rows,
};
const file = mode === "full" && !only ? join(root, "bench", "results.json") : join(OUT, "results-quick.json");
writeResults(file, results);

console.log(
  `\nturnvend bench (${mode}) on ${results.runtime.name}: wrangler ${results.runtime.wrangler}, workerd ${results.runtime.workerd}, node ${results.runtime.node}`,
);
console.log(
  `machine: ${results.machine.cores} cores (${results.machine.cpu_model}); ${results.runtime.load_tool}; took ${results.duration_s} s\n`,
);
printTable(rows, { mode });
console.log(`\nwritten to ${file}`);

const broken = rows.some((r) => r.error);
const missed = rows.some((r) => !r.pass);
process.exitCode = broken || (mode === "full" && missed) ? 1 : 0;
