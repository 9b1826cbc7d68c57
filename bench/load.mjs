// The load tool: autocannon, in this process. Latencies are collected per response as floats, because
// autocannon's own histogram rounds to whole milliseconds, too coarse for a 5 % budget on a 50 ms call.
import autocannon from "autocannon";
import { percentile } from "./stats.mjs";

/**
 * One autocannon run. `duration` (seconds) or `amount` (requests, stopped after `maxSeconds` if set). Returns req/s, exact latency
 * percentiles of 2xx answers (ms), and counts; throws if anything but 2xx came back, since a benchmark of
 * errors measures nothing.
 */
export async function load({
  url,
  connections,
  duration,
  amount,
  maxSeconds,
  method = "GET",
  headers = {},
  body,
  requests,
}) {
  const latencies = [];
  const opts = { url, connections, method, headers, body, requests, timeout: 30 };
  if (amount !== undefined) opts.amount = amount;
  else opts.duration = duration;
  const run = autocannon(opts);
  run.on("response", (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  // An `amount` run may be cut short, e.g. to stay inside a cache's freshness window on a slow machine.
  const cap = maxSeconds === undefined ? undefined : setTimeout(() => run.stop(), maxSeconds * 1000);
  const result = await run;
  clearTimeout(cap);
  const total = result.requests.total;
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(
      `load on ${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${total} requests (status codes ${JSON.stringify(result.statusCodeStats)})`,
    );
  }
  return {
    requests: total,
    seconds: result.duration,
    rps: total / result.duration,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    latencies,
  };
}
