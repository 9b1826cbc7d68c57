// Figures 6 and 7: turnvend's bundle and startup time against the minimal Hono Worker
// (bench/fixtures/minimal-hono), both built by the same `wrangler deploy --dry-run` in the same run.
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { median, round } from "../stats.mjs";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;
const WRANGLER = join(root, "node_modules", ".bin", "wrangler");
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false" };

export const PROJECTS = {
  turnvend: join(root, "wrangler.toml"),
  minimal_hono: join(root, "bench", "fixtures", "minimal-hono", "wrangler.toml"),
};

/**
 * Builds a project with `wrangler deploy --dry-run`: the output directory (what gets uploaded) and the
 * upload bundle `wrangler check startup` runs.
 */
export async function build(name, outRoot) {
  const dir = join(outRoot, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const paths = { outdir: join(dir, "dist"), bundle: join(dir, "worker.bundle") };
  await run(
    WRANGLER,
    ["deploy", "--dry-run", "-c", PROJECTS[name], "--outdir", paths.outdir, "--outfile", paths.bundle],
    {
      cwd: root,
      env: ENV,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return { name, dir, ...paths };
}

/** Raw and gzip bytes of the uploaded modules (source maps and wrangler's README left out). */
export function bundleSize(built) {
  let raw = 0;
  let gzip = 0;
  for (const file of readdirSync(built.outdir)) {
    if (file.endsWith(".map") || file === "README.md") continue;
    const bytes = readFileSync(join(built.outdir, file));
    raw += bytes.byteLength;
    gzip += gzipSync(bytes).byteLength;
  }
  return { raw, gzip };
}

/**
 * Which packages the uploaded module's bytes come from, largest first. esbuild marks each input's code
 * with a `// <path>` line in unminified output; each package's code is gzipped on its own, so the gzip
 * column slightly overstates every part but ranks them faithfully.
 */
export function composition(built, { byFile = false } = {}) {
  const text = readFileSync(join(built.outdir, "index.js"), "utf8");
  const parts = new Map();
  let current = "(wrangler entry and glue)";
  for (const line of text.split("\n")) {
    const marker = /^\/\/ (\S+\.(?:m?js|cjs|ts|tsx|json))$/.exec(line);
    if (marker) current = byFile ? marker[1] : packageOf(marker[1]);
    parts.set(current, (parts.get(current) ?? "") + line + "\n");
  }
  return [...parts.entries()]
    .map(([name, code]) => ({ name, raw_bytes: Buffer.byteLength(code), gzip_bytes: gzipSync(code).byteLength }))
    .sort((a, b) => b.raw_bytes - a.raw_bytes);
}

/**
 * What each area costs the upload, measured by switching it off: gzip of the whole module minus gzip of the
 * module with that area's code left out (areas: each package, each top-level folder of src/). Unlike the
 * per-part gzip of `composition`, these add up to about the whole, so they say what removing a part would save.
 */
export function marginalByArea(built) {
  const text = readFileSync(join(built.outdir, "index.js"), "utf8");
  const areas = new Map();
  let current = "(wrangler entry and glue)";
  for (const line of text.split("\n")) {
    const marker = /^\/\/ (\S+\.(?:m?js|cjs|ts|tsx|json))$/.exec(line);
    if (marker) current = areaOf(marker[1]);
    areas.set(current, (areas.get(current) ?? "") + line + "\n");
  }
  const whole = gzipSync(text).byteLength;
  return [...areas.keys()]
    .map((name) => {
      const rest = [...areas].filter(([other]) => other !== name).map(([, code]) => code);
      return { name, marginal_gzip_bytes: whole - gzipSync(rest.join("")).byteLength };
    })
    .sort((a, b) => b.marginal_gzip_bytes - a.marginal_gzip_bytes);
}

function areaOf(file) {
  if (file.includes("node_modules/") || !file.startsWith("src/")) return packageOf(file);
  const parts = file.split("/");
  return parts.length > 2 ? `src/${parts[1]}/` : "src/ (top-level files)";
}

function packageOf(file) {
  const at = file.lastIndexOf("node_modules/");
  if (at < 0) return file.startsWith("src/") ? "own src/" : "(wrangler entry and glue)";
  const parts = file.slice(at + "node_modules/".length).split("/");
  return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Startup time (ms) from `wrangler check startup`'s CPU profile: endTime − startTime. */
export async function startupMs(built, runIndex) {
  const profile = join(built.dir, `startup-${runIndex}.cpuprofile`);
  await run(
    WRANGLER,
    ["check", "startup", "-c", PROJECTS[built.name], "--worker", built.bundle, "--outfile", profile],
    {
      cwd: root,
      env: ENV,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const { startTime, endTime } = JSON.parse(readFileSync(profile, "utf8"));
  return (endTime - startTime) / 1000;
}

/** Figure 6: gzip bytes of turnvend ÷ gzip bytes of the minimal Hono Worker. */
export function bundleSizeRatio(turnvend, minimal) {
  const ours = bundleSize(turnvend);
  const base = bundleSize(minimal);
  const parts = composition(turnvend);
  return {
    value: ours.gzip / base.gzip,
    detail: {
      turnvend_gzip_bytes: ours.gzip,
      turnvend_raw_bytes: ours.raw,
      minimal_hono_gzip_bytes: base.gzip,
      minimal_hono_raw_bytes: base.raw,
      turnvend_composition: parts,
      turnvend_marginal_by_area: marginalByArea(turnvend),
      turnvend_largest_own_files: composition(turnvend, { byFile: true })
        .filter((p) => p.name.startsWith("src/"))
        .slice(0, 6),
      minimal_hono_composition: composition(minimal),
    },
  };
}

/** Figure 7: median startup of turnvend ÷ median startup of the minimal Hono Worker, runs alternating. */
export async function coldStartRatio(turnvend, minimal, runs) {
  const times = { turnvend: [], minimal_hono: [] };
  for (let i = 0; i < runs; i++) {
    times.turnvend.push(await startupMs(turnvend, i));
    times.minimal_hono.push(await startupMs(minimal, i));
  }
  const ours = median(times.turnvend);
  const base = median(times.minimal_hono);
  return {
    value: ours / base,
    detail: {
      median_ms_turnvend: round(ours),
      median_ms_minimal_hono: round(base),
      runs_ms_turnvend: times.turnvend.map((t) => round(t, 1)),
      runs_ms_minimal_hono: times.minimal_hono.map((t) => round(t, 1)),
    },
    load: { runs_each: runs, order: "turnvend, minimal per run" },
  };
}
