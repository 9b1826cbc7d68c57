// Latency and status bookkeeping for the load run: every request is one sample of (operation, status, ms).

/** Nearest-rank percentile of a list of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function round(x, digits = 1) {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export class Recorder {
  constructor() {
    /** op -> { ms: number[], statuses: Map<string, number> } */
    this.ops = new Map();
  }

  /** `status` is the HTTP status, or "error" when no answer came back. */
  record(op, status, ms) {
    let o = this.ops.get(op);
    if (!o) {
      o = { ms: [], statuses: new Map() };
      this.ops.set(op, o);
    }
    o.ms.push(ms);
    const k = String(status);
    o.statuses.set(k, (o.statuses.get(k) ?? 0) + 1);
  }

  /** One row per operation plus an "all" row: count, req/s, p50, p99 (ms), status counts. */
  summary(seconds) {
    const rows = [];
    const all = { ms: [], statuses: new Map() };
    for (const [op, o] of [...this.ops].sort(([a], [b]) => a.localeCompare(b))) {
      rows.push(row(op, o, seconds));
      all.ms.push(...o.ms);
      for (const [k, n] of o.statuses) all.statuses.set(k, (all.statuses.get(k) ?? 0) + n);
    }
    rows.push(row("all", all, seconds));
    return rows;
  }
}

function row(op, o, seconds) {
  return {
    op,
    requests: o.ms.length,
    rps: round(o.ms.length / seconds, 1),
    p50_ms: round(percentile(o.ms, 50), 1),
    p99_ms: round(percentile(o.ms, 99), 1),
    max_ms: round(percentile(o.ms, 100), 1),
    statuses: Object.fromEntries([...o.statuses].sort(([a], [b]) => a.localeCompare(b))),
  };
}

export function printTable(rows) {
  const head = ["operation", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "statuses"];
  const body = rows.map((r) => [
    r.op,
    String(r.requests),
    String(r.rps),
    String(r.p50_ms),
    String(r.p99_ms),
    String(r.max_ms),
    Object.entries(r.statuses)
      .map(([s, n]) => `${s}:${n}`)
      .join(" "),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) console.log(line(b));
}
