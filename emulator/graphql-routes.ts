import { Hono } from "hono";
import type { Context } from "hono";
import { isPlainObject, readJsonBody } from "./body.ts";
import { secretsEqual } from "./crypto.ts";
import { intercept } from "./intercept.ts";
import type { ResolvedOptions } from "./options.ts";
import type { EmulatorState, UsageRow } from "./state.ts";

/** Cloudflare's GraphQL Analytics API, under the v4 base (docs/cloudflare-upstream.md#usage-analytics). */
export const GRAPHQL_PATH = "/client/v4/graphql";

const DATASET = "callsTurnUsageAdaptiveGroups";
const BEARER_PATTERN = /^Bearer ([^\s]+)$/;
/** Cloudflare caps a node's `limit` at 10,000 rows. */
const MAX_LIMIT = 10_000;

/** Time dimensions and the bucket each floors `datetime` to (ms); `datetime` itself is the row's own time. */
const TIME_DIMENSIONS: Record<string, number> = {
  datetime: 1,
  datetimeMinute: 60_000,
  datetimeFiveMinutes: 300_000,
  datetimeFifteenMinutes: 900_000,
  datetimeHour: 3_600_000,
};
const KEY_DIMENSIONS = ["keyId", "customIdentifier", "username"] as const;

type Vars = Record<string, unknown>;

/** GraphQL answers its own failures with 200 and an `errors` array: so does the emulator. */
const gqlError = (c: Context, message: string): Response => c.json({ data: null, errors: [{ message }] }, 200);

/**
 * `POST /client/v4/graphql`: answers the `callsTurnUsageAdaptiveGroups` query shapes turnvend sends, from the
 * rows added with `POST /__emulator/usage`. Not a GraphQL engine: it reads the dataset's filter, limit,
 * orderBy and requested dimensions from the query text (values inline or as `$variables`), and sums
 * `egressBytes`/`ingressBytes` per group. Unlike Cloudflare it does not sample: sums are exact.
 */
export function graphqlRoutes(state: EmulatorState, opts: ResolvedOptions): Hono {
  const app = new Hono();
  app.post("/", intercept(state, "graphql", "graphql"), async (c) => {
    const match = BEARER_PATTERN.exec(c.req.header("authorization") ?? "");
    const token = match?.[1] ?? "";
    const tokenOk =
      (await secretsEqual(token, opts.apiToken)) ||
      (opts.analyticsToken !== undefined && (await secretsEqual(token, opts.analyticsToken)));
    if (!tokenOk) return c.json({ data: null, errors: [{ message: "not authorized" }] }, 403);
    const body = await readJsonBody(c.req.raw);
    if (!body.ok || !isPlainObject(body.value) || typeof body.value["query"] !== "string") {
      return gqlError(c, "failed to parse request body");
    }
    const query = body.value["query"];
    const vars: Vars = isPlainObject(body.value["variables"]) ? body.value["variables"] : {};
    if (!query.includes(DATASET)) return gqlError(c, `the emulator only answers ${DATASET}`);

    const accountFilter = fieldsOf(blockAfter(query, "accounts", "filter"), vars);
    if (accountFilter["accountTag"] !== opts.accountId) return gqlError(c, "not authorized for that account");

    const datasetArgs = query.slice(query.indexOf(DATASET));
    const filter = fieldsOf(blockAfter(datasetArgs, "", "filter"), vars);
    const limit = Number(argValue(/\blimit:\s*(\$?\w+)/.exec(datasetArgs)?.[1], vars) ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return gqlError(c, `limit must be 1..${MAX_LIMIT}`);
    const orderBy = /\borderBy:\s*\[?\s*(\w+)/.exec(datasetArgs)?.[1];
    const dims = /dimensions\s*\{([^}]*)\}/
      .exec(datasetArgs)?.[1]
      ?.split(/[\s,]+/)
      .filter((d) => d !== "");
    for (const d of dims ?? []) {
      if (!(d in TIME_DIMENSIONS) && !(KEY_DIMENSIONS as readonly string[]).includes(d)) {
        return gqlError(c, `unknown dimension ${d}`);
      }
    }

    const rows = state.usage.filter((row) => matches(row, filter));
    const groups = new Map<string, { dimensions: Record<string, string | null>; egress: number; ingress: number }>();
    for (const row of rows) {
      const dimensions: Record<string, string | null> = {};
      for (const d of dims ?? []) {
        const bucket = TIME_DIMENSIONS[d];
        dimensions[d] = bucket !== undefined ? isoSeconds(Math.floor(row.at / bucket) * bucket) : row[d as "keyId"];
      }
      const id = JSON.stringify(dimensions);
      const group = groups.get(id) ?? { dimensions, egress: 0, ingress: 0 };
      group.egress += row.egressBytes;
      group.ingress += row.ingressBytes;
      groups.set(id, group);
    }
    const list = [...groups.values()];
    if (orderBy === "sum_egressBytes_DESC") list.sort((a, b) => b.egress - a.egress);
    else list.sort((a, b) => JSON.stringify(a.dimensions).localeCompare(JSON.stringify(b.dimensions)));
    const nodes = list.slice(0, limit).map((g) => ({
      dimensions: g.dimensions,
      sum: { egressBytes: g.egress, ingressBytes: g.ingress },
    }));
    return c.json({ data: { viewer: { accounts: [{ [DATASET]: nodes }] } }, errors: null }, 200);
  });
  return app;
}

/** The `{ ... }` of `<name>(... <arg>: { ... }`, or "" when absent (the first one after `name`). */
function blockAfter(text: string, name: string, arg: string): string {
  const from = name ? text.indexOf(name) : 0;
  if (from < 0) return "";
  const m = new RegExp(`\\b${arg}:\\s*\\{([^}]*)\\}`).exec(text.slice(from));
  return m?.[1] ?? "";
}

/** `key: value` pairs of a filter block, `$variables` resolved. */
function fieldsOf(block: string, vars: Vars): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of block.matchAll(/(\w+):\s*("(?:[^"\\]|\\.)*"|\$?\w+)/g)) out[m[1]!] = argValue(m[2], vars);
  return out;
}

function argValue(raw: string | undefined, vars: Vars): unknown {
  if (raw === undefined) return undefined;
  if (raw.startsWith("$")) return vars[raw.slice(1)];
  if (raw.startsWith('"')) return JSON.parse(raw) as unknown;
  const n = Number(raw);
  return Number.isFinite(n) ? n : raw;
}

function matches(row: UsageRow, filter: Record<string, unknown>): boolean {
  const t = (name: string) => (typeof filter[name] === "string" ? Date.parse(filter[name] as string) : undefined);
  const geq = t("datetime_geq");
  const gt = t("datetime_gt");
  const lt = t("datetime_lt");
  const leq = t("datetime_leq");
  if (geq !== undefined && !(row.at >= geq)) return false;
  if (gt !== undefined && !(row.at > gt)) return false;
  if (lt !== undefined && !(row.at < lt)) return false;
  if (leq !== undefined && !(row.at <= leq)) return false;
  for (const d of KEY_DIMENSIONS) if (filter[d] !== undefined && row[d] !== filter[d]) return false;
  return true;
}

/** RFC 3339 without milliseconds, as Cloudflare's GraphQL API prints times. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
