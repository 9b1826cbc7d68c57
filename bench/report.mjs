// The benchmark's output: a table on stdout and bench/results.json, one row per figure.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { round } from "./stats.mjs";

const root = new URL("..", import.meta.url).pathname;

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(join(root, "node_modules", pkg, "package.json"), "utf8")).version;
  } catch {
    return "unknown";
  }
}

/** What ran the Worker, and on what. */
export function environment({ loadAtStart }) {
  const cpu = cpus();
  return {
    runtime: {
      name: "workerd via wrangler dev (local; Miniflare-simulated KV and Rate Limiting)",
      wrangler: versionOf("wrangler"),
      workerd: versionOf("workerd"),
      miniflare: versionOf("miniflare"),
      node: process.version,
      load_tool: `autocannon ${versionOf("autocannon")} (in the bench process, same machine)`,
    },
    machine: {
      cores: cpu.length,
      cpu_model: cpu[0]?.model ?? "unknown",
      memory_gib: round(totalmem() / 2 ** 30, 1),
      platform: `${process.platform}-${process.arch}`,
      // Other work on the machine during the run: every figure is a ratio, but a loaded machine adds noise.
      load_average_1m_at_start: round(loadAtStart, 2),
      load_average_1m_at_end: round(loadavg()[0], 2),
    },
  };
}

/** Whether `value` meets `target` ({ op, value }). */
export function meets(value, target) {
  if (!Number.isFinite(value)) return false;
  switch (target.op) {
    case ">=":
      return value >= target.value;
    case "<=":
      return value <= target.value;
    case "==":
      return value === target.value;
    default:
      throw new Error(`unknown target op ${target.op}`);
  }
}

/** A figure's row: its value against its target, or the error that kept it from being measured. */
export function row(name, target, outcome) {
  if (outcome.error)
    return { name, value: null, target: `${target.op} ${target.value}`, pass: false, error: outcome.error };
  return {
    name,
    value: round(outcome.value),
    target: `${target.op} ${target.value}`,
    pass: meets(outcome.value, target),
    ...(outcome.detail ? { detail: outcome.detail } : {}),
    ...(outcome.load ? { load: outcome.load } : {}),
  };
}

export function printTable(rows, { mode }) {
  const header = ["figure", "value", "target", mode === "quick" ? "result (not enforced)" : "result"];
  const lines = rows.map((r) => [
    r.name,
    r.value === null ? "error" : String(r.value),
    r.target,
    r.error ? `ERROR: ${r.error}` : r.pass ? "pass" : "FAIL",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log([fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n"));
}

export function writeResults(file, results) {
  writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
}
